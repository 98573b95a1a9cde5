"""The one exception type for errors a user can cause (bad file, wrong model, odd image)."""


class LicError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""

"""lic: learned image compression with real bitstreams."""

from lic.errors import LicError
from lic.models import load

__version__ = "0.1.0"

__all__ = ["LicError", "__version__", "load"]

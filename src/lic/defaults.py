"""The default codec and quality: one place for the API, the command line and the Pillow
plugin (importable without torch)."""

#: The best shipped model on Kodak (README, Results).
DEFAULT_MODEL = "elic2022-vr"
#: Its quality when neither a quality nor a size, bpp or PSNR target is given.
DEFAULT_QUALITY = 4.0

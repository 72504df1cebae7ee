"""``python -m mobilefaceswap``: the same as ``mfs``."""

from mobilefaceswap.cli import main

main()

"""`python -m lic` is the `lic` command."""

import sys

from lic.cli import main

sys.exit(main())

"""``python -m scriptgen`` runs the command line (see scriptgen.cli)."""

import sys

from .cli import main

sys.exit(main())

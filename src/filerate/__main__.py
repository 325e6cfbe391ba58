"""`python -m filerate STEP ...` runs the command line (the workflow's rules use this)."""

import sys

from filerate.cli import main

sys.exit(main())

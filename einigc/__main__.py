"""`python -m einigc`: the same as the `einigc` command."""

import sys

from einigc.cli import main

sys.exit(main())

#!/usr/bin/env python3
"""`make bench`'s entry point (the harness is moving into a package; this step only renames)."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent / "report.py"), run_name="__main__")

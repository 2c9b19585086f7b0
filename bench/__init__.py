"""The benchmark of `make bench`: cases, timing, memory, plans, report; `bench/run.py` runs it."""

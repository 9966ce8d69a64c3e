"""`make bench`: the production stack on loopback, measured (see bench/run.py and BENCHMARKS.md)."""

"""The benchmarks of `make bench`, one module per scenario (bench/run.py runs them in turn)."""

"""The benchmarks of hashwall: `python -m bench.run` (or `make bench`)."""

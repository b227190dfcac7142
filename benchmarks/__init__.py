"""The side-by-side benchmark suite: ``python -m benchmarks`` (see benchmarks/README.md)."""

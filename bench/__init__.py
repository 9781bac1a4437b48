"""The benchmark suite: `python -m bench` (see BENCHMARKS.md)."""

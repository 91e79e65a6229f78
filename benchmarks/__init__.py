"""Benchmarks: each `bench_*.py` module has `main()` and writes its figures to docs/benchmarks.md.

Run all with `python -m benchmarks`, or one with `python -m benchmarks.bench_<name>`.
"""

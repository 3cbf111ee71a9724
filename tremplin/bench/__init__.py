"""Benchmarks (`make bench`) and the naive baseline: never run in production."""

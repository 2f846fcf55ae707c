"""Benchmarks of the geo-offers service: a dataset generator and one script per target (see README.md)."""

"""Benchmarks of deconflict, run from the repository root (``python -m benchmarks.engine``)."""

"""Benchmark cases, one module per family; each module defines ``CASES``."""

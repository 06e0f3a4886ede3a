"""soma vs PyTorch speed benchmarks: ``python -m benchmarks`` (see README.md here)."""

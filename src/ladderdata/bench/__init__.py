"""Held-out benchmarks from validation scans (``ladder build-bench``) and leakage checks."""

"""Facts every export layout shares."""

SPLIT = "test"
"""The split of every exported parquet (the evaluators read ``test``)."""

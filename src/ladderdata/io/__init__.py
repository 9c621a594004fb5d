"""Dataset output: Parquet shards with Hugging Face features, dataset card, manifest and statistics."""

"""Weights: official names, the download cache, loading without running code, checkpoint layouts and training checkpoints."""

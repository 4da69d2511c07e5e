"""Data: manifests and collections (music catalogue, speech corpus, song catalogue), builders and adapters."""

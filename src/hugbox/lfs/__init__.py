"""git-lfs: the batch API, signed transfers and receiving large objects into the blob store."""

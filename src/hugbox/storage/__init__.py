"""Storage: content-addressed large files and bare git repos; knows nothing of hub repos."""

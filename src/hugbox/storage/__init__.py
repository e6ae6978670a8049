"""Storage: content-addressed large files and bare git repositories. Knows nothing of repos' owners."""

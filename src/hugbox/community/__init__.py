"""Community: discussions and pull requests on repos (a PR's ref and number belong to repos)."""

"""The spaces origin: a reverse proxy from `/spaces/{owner}/{name}/` to each sandboxed app."""

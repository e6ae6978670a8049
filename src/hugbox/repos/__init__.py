"""Repositories: git storage, commits and the routes that serve them."""

"""Likes and collections: what people mark and gather of the hub's repos."""

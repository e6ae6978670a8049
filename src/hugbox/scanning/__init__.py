"""Security scanning: every pickle-bearing file of every commit, once per blob (spec §5)."""

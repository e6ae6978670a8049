"""Gated repos: access requests to a repo's files, granted automatically or by its admins."""

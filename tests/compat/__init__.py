"""Compatibility tests: the real client libraries against a live hugbox on a local port."""

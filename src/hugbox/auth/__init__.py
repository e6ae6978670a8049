"""Accounts (users and organisations), memberships, access tokens, and who may do what."""

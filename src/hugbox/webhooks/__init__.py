"""Webhooks: a user's subscriptions to repo events, delivered as HF's payloads by the job worker."""

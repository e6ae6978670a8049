"""Durable background work: a job table, claimed atomically by workers in any process."""

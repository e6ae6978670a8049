"""Observability: liveness and readiness, Prometheus metrics for the whole hub, access logs
(text or JSON) and optional OpenTelemetry traces."""

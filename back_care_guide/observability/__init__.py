"""Metrics (Prometheus) and structured logs: counts and timings, never who or what was said."""

"""Benchmarks that print numbers: feature engine, model latency, HTTP path and load."""

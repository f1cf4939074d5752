"""Benchmarks of the coinlog runtime against a real Kafka broker and PostgreSQL."""

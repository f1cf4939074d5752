"""The public event contract: envelope, event models, topics and their encoding."""

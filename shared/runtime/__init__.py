"""The exactly-once consumer runtime every service runs on."""

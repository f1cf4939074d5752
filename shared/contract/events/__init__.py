"""Event models grouped by the system that publishes them."""

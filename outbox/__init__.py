"""Sending: email, SMS and call logging, with threading headers (the outbound work builds here)."""

"""Twilio's HTTP requests in: voice, AI voice, status callbacks and inbound routing."""

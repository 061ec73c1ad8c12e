"""End-to-end tests: Forkline under gunicorn against the Twilio simulator, as `make demo` runs."""

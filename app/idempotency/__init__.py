"""Idempotency-Key on POST requests: a retry gets the first answer and creates nothing new."""

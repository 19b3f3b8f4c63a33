"""Symbioza HTTP service."""

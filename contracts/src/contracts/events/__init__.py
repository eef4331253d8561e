"""Payload models (the `data` of an envelope), one module per owning aggregate."""

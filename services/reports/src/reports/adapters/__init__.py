"""Adapters of the reports service to the outside world (MongoDB, other services' HTTP APIs)."""

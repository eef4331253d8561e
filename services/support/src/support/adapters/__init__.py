"""Adapters of the support service to the outside world (MongoDB, other services' HTTP APIs)."""

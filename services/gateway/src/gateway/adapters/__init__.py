"""Adapters of the gateway service to the outside world (MongoDB, other services' HTTP APIs)."""

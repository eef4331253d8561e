"""Adapters of the instances service to the outside world (MongoDB, other services' HTTP APIs)."""

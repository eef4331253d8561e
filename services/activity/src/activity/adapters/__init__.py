"""Adapters of the activity service to the outside world (MongoDB)."""

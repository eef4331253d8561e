"""Use cases of the activity service, written against ports (see `ports.py`)."""

"""Use cases of the support service, written against ports."""

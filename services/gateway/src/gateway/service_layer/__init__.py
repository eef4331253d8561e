"""Use cases of the gateway service, written against ports."""

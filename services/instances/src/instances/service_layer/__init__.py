"""Use cases of the instances service, written against ports."""

"""Use cases of the reports service, written against ports."""

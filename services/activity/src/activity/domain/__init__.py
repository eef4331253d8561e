"""The activity domain: what a terminal did. Pure Python: no I/O, no framework imports."""

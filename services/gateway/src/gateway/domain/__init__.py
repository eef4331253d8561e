"""The gateway domain: users, tokens, audit; the public API composed from the services; live notifications.

Pure Python: no I/O, no framework imports (checked by import-linter).
"""

"""The support domain: one thread per company, messages, read marks, system notes.

Pure Python: no I/O, no framework imports (checked by import-linter).
"""

"""The instances domain: companies, instances, provisionings and contracts, licenses, cancellation requests.

Pure Python: no I/O, no framework imports (checked by import-linter).
"""

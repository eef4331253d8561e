"""The reports domain: read models projected from events: charts, detail lists, active services, exports.

Pure Python: no I/O, no framework imports (checked by import-linter).
"""

"""partnerapp locally without Docker: real Kafka, real FerretDB, the five services as processes.

`python -m partnerapp_stack up|down|status|keys [...]` (see `cli`); `python -m partnerapp_stack.demo`
loads demo data into a running platform; `private` starts stacks of their own for the fault suite
and the benchmarks. It runs from a checkout (installed editable by the uv workspace): the pinned
broker (`deploy/local/kafka/`) and FerretDB (`deploy/local/ferretdb/`) sources sit beside it.
"""

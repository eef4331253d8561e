"""What every partnerapp service needs once.

settings (pydantic-settings), the Kafka broker and Mongo client factories, the outbox and its
relay, the idempotent consumer with dead letters, telemetry, health endpoints, problem+json
errors, access-token verification, and the runtime that starts them together.
"""

"""How the support service is driven over HTTP (its Kafka events: `service_layer/event_handlers.py`)."""

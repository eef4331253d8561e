"""How the gateway service is driven: HTTP routes and Kafka consumers."""

"""How the support service is driven: HTTP routes and Kafka consumers."""

"""How the instances service is driven: HTTP routes and Kafka consumers."""

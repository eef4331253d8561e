"""How the reports service is driven: HTTP routes and Kafka consumers."""

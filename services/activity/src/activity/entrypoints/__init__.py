"""How the activity service is driven: HTTP routes and Kafka consumers."""

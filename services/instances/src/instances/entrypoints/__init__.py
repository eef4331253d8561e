"""How the instances service is driven: its HTTP routes (it consumes no topic) and the demo data loader."""

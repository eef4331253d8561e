"""partnerapp activity service: terminal telemetry ingest and activity search (R-40..R-43)."""

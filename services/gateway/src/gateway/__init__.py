"""partnerapp gateway service: users, tokens, audit; the public API composed from the services; live notifications."""

"""partnerapp support service: one thread per company, messages, read marks, system notes."""

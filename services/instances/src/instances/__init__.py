"""partnerapp instances service: companies, instances, provisionings and contracts, licenses, cancellation requests."""

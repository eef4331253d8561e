"""partnerapp reports service: read models projected from events: charts, detail lists, active services, exports."""

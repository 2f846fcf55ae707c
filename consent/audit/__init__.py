"""What a data-protection officer reads of the ledger: events by filter, the access log, the daily summary."""

"""Compliance on the service side: the officer's audit routes, the data-subject routes, the Art. 30
processing record, and the ledger signing key."""

"""API schemas (request and response bodies), separate from the ORM models."""

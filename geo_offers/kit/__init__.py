"""Shared infrastructure: the database (sessions and the asynchronous pool), dependencies, problem+json,
limits, logging, metrics, health, the clock and migrations. Nothing here knows about offers."""

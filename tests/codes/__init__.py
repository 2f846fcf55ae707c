"""Tests of one-time codes: pools, claims under concurrency, the till, and what is (not) stored."""

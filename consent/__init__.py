"""Opt-in consent service: notices, pseudonyms, the hash-chained ledger and the consent gate.

This package knows nothing about offers or maps and never imports ``geo_offers``.
"""

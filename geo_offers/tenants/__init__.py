"""Tenants and access: merchants, API keys, and authentication of every caller by its key."""

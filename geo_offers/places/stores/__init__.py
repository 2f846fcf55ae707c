"""Stores: a merchant's places (a point, an address, a time zone), one by one or imported in bulk."""

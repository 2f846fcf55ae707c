"""Deals: what a store offers, where (a radius or a polygon, covered by H3 cells) and when."""

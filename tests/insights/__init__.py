"""Tests of the anonymous insights: counting, suppression, noise, attacks, retention."""

"""Matching: the in-memory deal index (its source and change feed), the matcher with its answer cache, the
match route and its fast path, and the area catalogue an app can match against on the device."""

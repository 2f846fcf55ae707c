"""Places: stores and deals, their areas (geometry and H3 coverage), weekly windows, and the bulk import."""

"""One-time redemption codes: a deal's pool, claimed by an app at the moment of redeeming, marked at the till."""

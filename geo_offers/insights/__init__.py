"""Anonymous insights: counters of consenting people's activity (no subject, no fine cell, no exact time),
offer events and redemptions, releases with k-suppression and differential-privacy noise, and retention."""

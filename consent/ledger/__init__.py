"""The consent ledger: an append-only hash chain, its signed checkpoints, exports and their offline verification."""

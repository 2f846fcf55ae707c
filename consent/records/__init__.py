"""Consent records and receipts after ISO/IEC TS 27560:2023, in W3C DPV terms (JSON-LD)."""

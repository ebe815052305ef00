"""Parity with the real vendors (issue 24): a probe catalogue recorded against a sandbox as normalised snapshots
(`q2c parity record`), replayed against a simulator or any URL (`q2c parity verify`), and a corpus of the vendors'
own documented example responses every simulator must reproduce. See docs/parity.md."""

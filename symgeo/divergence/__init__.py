"""Divergences: KL, entropy, cross-entropy, α-divergences, exponential-family structure."""

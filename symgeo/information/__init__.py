"""Information: score, Fisher matrix (both forms), Cramér–Rao, Jeffreys, reparameterisation."""

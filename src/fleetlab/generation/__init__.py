"""Layer 2, generation: the one place a spec becomes a fleet (`fleets.plan`, `fleets.generate`). Each module is one line in the README's Layout."""

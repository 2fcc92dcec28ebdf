"""Layer 1, model: what a fleet is, as data; no database, no generation. Each module is one line in the README's Layout."""

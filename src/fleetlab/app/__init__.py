"""Layer 5, app: what people run: the `fleetlab` command (one *_commands module per group), the notebooks' helpers, charts. Each module is one line in the README's Layout."""

"""Layer 3, store: PostgreSQL: the embedded server, connections, databases, migrations, loads, resets, checks. Each module is one line in the README's Layout."""

"""Layer 4, read: rows out of PostgreSQL as typed polars frames. Each module is one line in the README's Layout."""

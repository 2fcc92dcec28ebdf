"""Layer 4, read: rows out of PostgreSQL as typed polars frames.

query    `read_sql` / `fetch` through ADBC, connection errors
arrow    Arrow → polars with fleetlab's types
engine   a SQLAlchemy engine for tools that want one
clock    the reference time and thresholds of a gateway's status
inspect  canned questions (summaries, stale gateways, mixes, records) and what the notebooks show
"""

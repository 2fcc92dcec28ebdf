"""Layer 4, read: rows out of PostgreSQL as typed polars frames.

query      the URL a reader reads, read connections, `read_sql` / `fetch` through ADBC, errors
arrow      Arrow → polars with fleetlab's types
engine     a SQLAlchemy engine for tools that want one
filters    `Filter` (which part of the fleet) and `Query` (a filtered question's SQL and parameters)
workbench  `Workbench`: one handle on a fleet database, the canned questions as its methods
sites      factory coordinates, and the fleet grouped by site
"""

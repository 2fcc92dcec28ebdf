"""Layer 1, model: what a fleet is, as data. No database, no generation.

tables    the platform's tables: names, varchar widths, tables that are fleetlab's own
fleet     polars schemas of the rows, `Fleet` (frames) and the `Loadable` protocol
counts    `Count` (fixed, uniform, poisson) and its parser
values    parsers and rules of the spec's scalar values (seed, as_of, locales, mixes, text)
status    gateway status (online / recent / stale / never_seen) and its Clock, in SQL and polars
spec      `FleetSpec`, its one validator, its mapping form and overrides; the marker's record
platform  the real platform's rules for values (API schemas, acquisition client), on frames and in SQL
scenarios the preset scenarios (TOML) and `load_scenario`
"""

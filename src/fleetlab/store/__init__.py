"""Layer 3, store: PostgreSQL. Configuration, the embedded server, connections, migrations, loads.

config    the one front door for settings (the environment is read there), `secrets()`
dsn       PostgreSQL URLs: parsing, masking, name checks
server    the embedded PostgreSQL 18 server
db        which database, connecting, wording PostgreSQL's errors
migrate   append-only SQL migrations (the files in migrations/)
marker    the table that says "made by fleetlab"
schema    the platform's schema as data, compared with a database (platform_schema.json)
crypto    the platform's password format, keys and keyrings
tally     stored passwords that do not open, counted with a reason per row
seal      the HMAC secret of FLEETLAB_HOME that proves a database is fleetlab's
databases side names, clones, ending sessions, the atomic swap, dropping only what is ours
cache     the scenario cache: keys, templates, what is ours, eviction
load      TRUNCATE + COPY of a fleet in one transaction
reset     build a fresh database beside the old one, then swap; `seed` into an existing one
rotate    re-encrypt passwords under the current key
checks    `fleetlab check`'s invariants
faults    test-only fault injection points
"""

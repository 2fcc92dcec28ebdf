"""Layer 5, app: what people run. The CLI, the notebooks' helpers, charts.

options          the one table of fleet options: CLI flags and the notebook form are built from it
failures         an error → one message and an exit code (CLI and notebook scripts alike)
output           `fleetlab query`'s output formats, the reset summary
progress         progress bars on a terminal
parsers          a command's parser: its help and the `Example:` its --help ends with
cli              the `fleetlab` command: main() and the parser, assembled from the *_commands modules
reset_commands   fleetlab reset, seed, scenarios
db_commands      fleetlab migrate, status, db url|stop|protect|unprotect
cache_commands   fleetlab cache list|clear
export_commands  fleetlab export
key_commands     fleetlab key new|rotate, decrypt
query_commands   fleetlab query
check_commands   fleetlab check
notebook         marimo wiring: runtime, flags, the reset form, gate, tabs, scripts
compare          scenarios side by side without loading them
charts           Altair charts of the inspections
"""

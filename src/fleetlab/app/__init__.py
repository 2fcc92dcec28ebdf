"""Layer 5, app: what people run. The CLI, the notebooks' helpers, charts.

options   the one table of fleet options: CLI flags and the notebook form are built from it
failures  an error → one message and an exit code (CLI and notebook scripts alike)
output    `fleetlab query`'s output formats, the reset summary
progress  progress bars on a terminal
cli       the `fleetlab` command
notebook  marimo wiring: runtime, flags, the reset form, gate, tabs, scripts
compare   scenarios side by side without loading them
charts    Altair charts of the inspections
"""

"""The notebook snapshots run hermetically: each in a database of its own (see scripts/snapshot_plugin.py)."""

from snapshot_plugin import (  # noqa: F401  (pytest finds hooks by name in a conftest)
    pytest_assertrepr_compare,
    pytest_collect_file,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_setup,
    pytest_runtest_teardown,
    pytest_unconfigure,
)

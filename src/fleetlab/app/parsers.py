"""How a command's parser is made: its one-line help, and the `Example:` its --help ends with."""

from __future__ import annotations

import argparse

EXAMPLE = "Example:"


def epilog(*examples: str) -> str:
    """The `Example:` section: command lines that work as they are, one per line."""
    return "\n".join([EXAMPLE, *(f"  {line}" for line in examples)])


def command(sub, name: str, help: str, *examples: str) -> argparse.ArgumentParser:
    """Add the command `name` to `sub` (an `add_subparsers()` action), its --help ending with `examples`."""
    return sub.add_parser(
        name,
        help=help,
        description=help,
        epilog=epilog(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

"""`fleetlab key new|path|rotate` and `fleetlab decrypt`: the secret key and the gateway passwords under it."""

from __future__ import annotations

import argparse

from ..config import Settings
from .parsers import command


def cmd_key_new(args: argparse.Namespace, settings: Settings) -> int:
    from ..store.crypto import new_key

    print(new_key())
    return 0


def cmd_key_path(args: argparse.Namespace, settings: Settings) -> int:
    """Where the key file is (FLEETLAB_HOME's), for `export ENCRYPTION_KEY=$(cat "$(fleetlab key path)")`."""
    from ..errors import ConfigError

    if settings.secret_key is not None or settings.platform_key is not None:
        source = "FLEETLAB_SECRET_KEY" if settings.secret_key is not None else "ENCRYPTION_KEY"
        raise ConfigError(f"the key comes from {source}, not from a file: use that variable's value.")
    if not settings.key_file.exists():
        raise ConfigError(f"no key file yet at {settings.key_file}; `fleetlab reset` makes it.")
    print(settings.key_file)
    return 0


def cmd_key_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import db
    from ..store.crypto import keyring_for
    from ..store.rotate import rotate_at
    from .progress import terminal_progress

    keys = keyring_for(settings, create=False)
    url = db.resolve(settings)
    with terminal_progress() as progress:  # the bar's size is the table's, counted under the rotation's lock
        done = rotate_at(url, keys, lock_timeout=settings.lock_timeout, progress=progress)
    legacy = f" ({done.from_v1:,} from fleetlab's earlier v1 format)" if done.from_v1 else ""
    print(
        f"re-encrypted {done.rewritten:,} of {done.total:,} gateway passwords under key {done.key_id}{legacy}; "
        f"{done.total - done.rewritten:,} were already under it"
    )
    return 0


def cmd_decrypt(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import db
    from ..store.crypto import keyring_for
    from ..store.rotate import password

    keys = keyring_for(settings, create=False)
    print(password(db.resolve(settings), keys, args.gateway_id))
    return 0


def register(sub) -> None:
    p = command(
        sub,
        "key",
        "secret keys: `key new` prints a fresh base64 key, `key path` where the key file is, `key rotate` re-encrypts",
        "fleetlab key new",
    )
    actions = p.add_subparsers(title="key commands", metavar="ACTION", dest="action", required=True)
    q = command(
        actions,
        "new",
        "print a new random AES-256 key (base64) for FLEETLAB_SECRET_KEY or ENCRYPTION_KEY",
        "fleetlab key new",
    )
    q.set_defaults(func=cmd_key_new)
    q = command(
        actions,
        "path",
        "print where the key file is (in FLEETLAB_HOME), to hand the key to the platform",
        "fleetlab key path",
    )
    q.set_defaults(func=cmd_key_path)
    q = command(
        actions,
        "rotate",
        "re-encrypt every gateway password under the current key, in the platform's format",
        "fleetlab key rotate",
    )
    q.set_defaults(func=cmd_key_rotate)

    p = command(sub, "decrypt", "print a gateway's decrypted password (for inspection)", "fleetlab decrypt GW-SPR-001")
    p.add_argument("gateway_id", help="the gateway's device id, e.g. GW-SPR-001")
    p.set_defaults(func=cmd_decrypt)

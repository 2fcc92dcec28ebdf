"""Key rotation: re-encrypt the stored gateway passwords under the current key (`fleetlab key rotate`);
and reading one back (`fleetlab decrypt`).

After a new key is set (FLEETLAB_SECRET_KEY or ENCRYPTION_KEY, the old one moved to
FLEETLAB_PREVIOUS_SECRET_KEYS), every password that is not yet in the platform's JSON format under
the current key is decrypted and written again: rows fleetlab wrote under an earlier key, rows in
fleetlab's earlier `v1.` format, and rows the platform wrote with another key. Rows the platform
wrote with the current key are already readable by both and are left as they are.

All in one transaction, with the table locked against writers: either every password is rotated
or none is (a row that no key opens stops the rotation before anything is written). Plaintexts
do not change, so neither does `updated_at` (the platform's trigger is held off meanwhile).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from ..dsn import DatabaseURL
from ..errors import ConfigError, ResetRefused, SecretError
from . import marker
from .crypto import Keyring
from .db import all_or_nothing, connect, translate_errors
from .tally import Tally

BATCH = 10_000
EXAMPLES = 3
ROWS_SHOWN = 10  # rows listed with their reason when the rotation is refused
TRIGGER = "update_gateways_updated_at"


@dataclass(frozen=True)
class Rotation:
    total: int
    rewritten: int
    from_v1: int
    key_id: str


def rotate_at(
    url: DatabaseURL,
    keyring: Keyring,
    *,
    lock_timeout: float = 10.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> Rotation:
    """`rotate` in the database at `url`, which must carry fleetlab's marker: fleetlab rotates only its own."""
    with connect(url) as conn, translate_errors(url, "the rotation"):
        if marker.read(conn) is None:
            raise ResetRefused(
                f"{url.where} has no fleetlab marker; fleetlab rotates passwords only in databases it made."
            )
        return rotate(conn, keyring, lock_timeout=lock_timeout, progress=progress)


def password(url: DatabaseURL, keyring: Keyring, gateway_id: str) -> str:
    """The decrypted password of the gateway `gateway_id` (the live row before a deleted one) at `url`."""
    with connect(url) as conn, translate_errors(url, "reading the gateway's password"):
        rows = conn.execute(
            "SELECT id::text, password_encrypted FROM gateways WHERE gateway_id = %s ORDER BY deleted_at NULLS FIRST",
            (gateway_id,),
        ).fetchall()
    if not rows:
        raise ConfigError(f"no gateway with gateway_id {gateway_id!r} in {url.where}.")
    row_id, token = rows[0]
    try:
        return keyring.decrypt(token, row_id)
    except SecretError as exc:
        raise SecretError(f"the password of gateway {gateway_id!r} does not decrypt: {exc}") from None


def rotate(
    conn: psycopg.Connection,
    keyring: Keyring,
    *,
    lock_timeout: float = 10.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> Rotation:
    """Re-encrypt, under `keyring.current`, every gateway password that is not already there."""
    conn.rollback()
    enc = keyring.encryptor()
    with (
        all_or_nothing(conn, "rotating the passwords", lock_timeout=lock_timeout, holder="the gateways table"),
        conn.transaction(),
    ):
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout * 1000)}ms",))
        conn.execute("LOCK TABLE gateways IN SHARE ROW EXCLUSIVE MODE")
        total = conn.execute("SELECT count(*) FROM gateways").fetchone()[0]
        conn.execute(
            "CREATE TEMPORARY TABLE fleetlab_rotated (id uuid, password_encrypted text NOT NULL) ON COMMIT DROP"
        )
        tally = Tally()
        rewritten = from_v1 = 0
        with conn.cursor(name="fleetlab_rotate") as cur:
            cur.execute("SELECT id::text, gateway_id, password_encrypted FROM gateways ORDER BY id")
            while rows := cur.fetchmany(BATCH):
                batch = io.StringIO()
                for row_id, gateway_id, token in rows:
                    opened = tally.open(keyring, token, row_id, gateway_id)
                    if opened is None:
                        continue
                    if opened.format == "json" and opened.key_id == enc.key_id:
                        continue  # readable by the platform and fleetlab with the current key already
                    from_v1 += opened.format == "v1"
                    rewritten += 1
                    # ids are UUIDs, values JSON of base64 and hex: nothing to escape for COPY text
                    batch.write(f"{row_id}\t{enc.encrypt(opened.plaintext)}\n")
                if batch.tell() and not tally.failed:
                    with (
                        conn.cursor() as w,
                        w.copy("COPY fleetlab_rotated (id, password_encrypted) FROM STDIN") as copy,
                    ):
                        copy.write(batch.getvalue())
                if progress:
                    progress("passwords", tally.total, total)
        if tally.failed:
            why = "\n".join(f"  {line}" for line in tally.per_row(ROWS_SHOWN))
            raise SecretError(
                f"{tally.headline(EXAMPLES)}. Nothing was rotated: add the key they were written with to "
                f"FLEETLAB_PREVIOUS_SECRET_KEYS, or repair those rows. Why, per row:\n{why}"
            )
        if rewritten:
            _apply(conn)
    return Rotation(total=total, rewritten=rewritten, from_v1=from_v1, key_id=enc.key_id)


def _apply(conn: psycopg.Connection) -> None:
    """Write the re-encrypted values over the old ones, without touching updated_at."""
    has_trigger = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'gateways'::regclass AND tgname = %s AND tgenabled <> 'D')",
        (TRIGGER,),
    ).fetchone()[0]
    if has_trigger:
        conn.execute(f"ALTER TABLE gateways DISABLE TRIGGER {TRIGGER}")
    conn.execute(
        "UPDATE gateways g SET password_encrypted = r.password_encrypted FROM fleetlab_rotated r WHERE g.id = r.id"
    )
    if has_trigger:
        conn.execute(f"ALTER TABLE gateways ENABLE TRIGGER {TRIGGER}")

"""The seal: what only one FLEETLAB_HOME can write, so fleetlab knows its own databases on a shared server.

An HMAC-SHA256 with a secret kept in FLEETLAB_HOME (`cache.seal`, mode 0600, made on first use, never
followed through a symlink). The scenario cache signs its templates' records with it, and the pytest
plugin its test databases' comments.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

SEAL_BYTES = 32


class Seal:
    """HMAC-SHA256 with a secret kept in FLEETLAB_HOME (`cache.seal`, mode 0600, made on first use).

    The folder also holds `pending/`: the names of templates a keep is making right now, written
    before the database exists, so an interrupted keep's database is known as ours."""

    def __init__(self, folder: Path, secret: bytes):
        self.folder, self._secret = folder, secret

    def __repr__(self) -> str:
        return f"Seal({self.folder})"

    @classmethod
    def load(cls, home: Path, *, create: bool) -> Seal | None:
        """The seal of `home`; None when it has none yet and `create` is False, or when the file is
        unusable (then nothing is ours: nothing is served or dropped, and `problem()` says why)."""
        path = home / "cache.seal"
        try:
            return cls(home, _read_secret(path))
        except FileNotFoundError:
            if not create:
                return None
        except OSError:
            return None
        secret = secrets.token_bytes(SEAL_BYTES)
        try:  # written whole under a private name, then linked into place: never seen half-written
            home.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=home, prefix=".cache.seal.")
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secret.hex() + "\n")
                os.link(tmp, path)
            finally:
                os.unlink(tmp)
        except FileExistsError:  # another process made it first
            try:
                return cls(home, _read_secret(path))
            except OSError:
                return None
        except OSError:
            return None
        return cls(home, secret)

    def tag(self, text: str) -> str:
        """A name part only this FLEETLAB_HOME can compute (hex)."""
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def sign(self, name: str, oid: int, record: dict[str, Any]) -> str:
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(self._secret, f"{name}\0{oid}\0{body}".encode(), hashlib.sha256).hexdigest()

    def verifies(self, name: str, oid: int, record: dict[str, Any], seal: Any) -> bool:
        return isinstance(seal, str) and hmac.compare_digest(self.sign(name, oid, record), seal)

    # interrupted keeps
    def _pending(self, name: str) -> Path:
        return self.folder / "cache-pending" / name

    def begin(self, name: str) -> None:
        self._pending(name).parent.mkdir(mode=0o700, exist_ok=True)
        self._pending(name).write_text(self.sign(name, 0, {"pending": True}) + "\n")

    def end(self, name: str) -> None:
        self._pending(name).unlink(missing_ok=True)

    def pending(self, name: str) -> bool:
        try:
            text = self._pending(name).read_text(errors="replace").strip()
        except OSError:
            return False
        return self.verifies(name, 0, {"pending": True}, text)


def _read_secret(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a file")
        text = fh.read(200).strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise OSError(f"{path} is damaged") from None
    if len(secret) != SEAL_BYTES:
        raise OSError(f"{path} is damaged")
    return secret

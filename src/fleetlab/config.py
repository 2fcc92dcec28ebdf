"""One front door for configuration: every setting has one name and one environment variable.

| setting              | environment variable            | default                         |
|----------------------|---------------------------------|---------------------------------|
| database_url         | DATABASE_URL                    | the embedded server             |
| home                 | FLEETLAB_HOME                   | .fleetlab in the project root   |
|                      |                                 | (see default_home)              |
| secret_key           | FLEETLAB_SECRET_KEY             | ENCRYPTION_KEY, else            |
|                      |                                 | $FLEETLAB_HOME/secret.key       |
| platform_key         | ENCRYPTION_KEY (the platform's) | none; FLEETLAB_SECRET_KEY wins, |
|                      |                                 | this one then still decrypts    |
| previous_secret_keys | FLEETLAB_PREVIOUS_SECRET_KEYS   | none (comma-separated, base64)  |
| allow_remote_reset   | FLEETLAB_ALLOW_REMOTE_RESET     | off                             |
| lock_timeout         | FLEETLAB_LOCK_TIMEOUT           | 10 (seconds)                    |
| libpq_target         | PGHOST, PGHOSTADDR, PGSERVICE   | none (read only so the remote   |
|                      |                                 | guard sees where libpq would go)|
| test_database_url    | FLEETLAB_TEST_DATABASE_URL      | none: the pytest plugin's       |
|                      |                                 | databases go to database_url's  |
|                      |                                 | server (else the embedded one)  |
| cache_entries        | FLEETLAB_CACHE_ENTRIES          | 4 templates kept (0: no cache)  |
| cache_max_mb         | FLEETLAB_CACHE_MAX_MB           | 8192 (all templates together)   |
| notebook_args        | FLEETLAB_NOTEBOOK_ARGS          | none (a notebook's flags in a   |
|                      |                                 | plain kernel, e.g. under nbval) |
| (debugging())        | FLEETLAB_DEBUG                  | off: errors without traceback   |

The environment is read here and nowhere else (the test-only fault hooks of `fleetlab.faults`
aside); library functions take a Settings or a URL. The keys themselves are
`fleetlab.store.crypto.keyring_for(settings)`. `secrets()` lists what must never be printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError

WORKBENCH_DB = "fleetlab"
HOME_DIR = ".fleetlab"


def default_home(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """FLEETLAB_HOME when it is not set: `.fleetlab` in the project root, so a command, a kernel or
    a notebook started from any folder of a project finds the same server and key.

    The project root is the nearest enclosing folder (the working directory included) of a git
    checkout (`.git`), else the nearest holding a `pyproject.toml`; outside any project it is the
    user's data folder (`$XDG_DATA_HOME/fleetlab`, else `~/.local/share/fleetlab`).
    """
    cwd = (cwd or Path.cwd()).resolve()
    for marker in (".git", "pyproject.toml"):
        for folder in (cwd, *cwd.parents):
            if (folder / marker).exists():
                return folder / HOME_DIR
    data = (os.environ if env is None else env).get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "fleetlab"


LIBPQ_TARGET_VARS = ("PGHOST", "PGHOSTADDR", "PGSERVICE")


@dataclass(frozen=True)
class Settings:
    database_url: str | None = field(default=None, repr=False)
    home: Path = field(default_factory=default_home)
    secret_key: str | None = field(default=None, repr=False)
    platform_key: str | None = field(default=None, repr=False)
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    allow_remote_reset: bool = False
    lock_timeout: float = 10.0
    # libpq fills a URL's missing host from PGHOST and overrides it with PGHOSTADDR or a service:
    # the reset guard must judge the server libpq will really reach.
    libpq_target: tuple[tuple[str, str], ...] = ()
    notebook_args: str = ""
    cache_entries: int = 4
    cache_max_mb: int = 8192
    load_streams: int = 0  # COPY streams of a big reset's load; 0: one per core (fleetlab.store.parallel)
    test_database_url: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        url = env.get("DATABASE_URL") or None
        home = Path(env["FLEETLAB_HOME"]).expanduser() if env.get("FLEETLAB_HOME") else default_home(env=env)
        key = env.get("FLEETLAB_SECRET_KEY") or None
        platform_key = env.get("ENCRYPTION_KEY") or None
        previous = tuple(k.strip() for k in (env.get("FLEETLAB_PREVIOUS_SECRET_KEYS") or "").split(",") if k.strip())
        allow = (env.get("FLEETLAB_ALLOW_REMOTE_RESET") or "").strip().lower()
        if allow not in ("", "0", "1", "true", "false", "yes", "no"):
            raise ConfigError("FLEETLAB_ALLOW_REMOTE_RESET must be 1 or 0.")
        raw_timeout = env.get("FLEETLAB_LOCK_TIMEOUT") or "10"
        try:
            timeout = float(raw_timeout)
            if not 0 < timeout <= 3600:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"FLEETLAB_LOCK_TIMEOUT must be a number of seconds between 0 and 3600, not {raw_timeout!r}."
            ) from None
        libpq_target = tuple((k, env[k]) for k in LIBPQ_TARGET_VARS if env.get(k))
        cache_entries = _whole(env, "FLEETLAB_CACHE_ENTRIES", 4, "templates (0 turns the scenario cache off)")
        cache_max_mb = _whole(env, "FLEETLAB_CACHE_MAX_MB", 8192, "megabytes")
        load_streams = _whole(env, "FLEETLAB_LOAD_STREAMS", 0, "streams (0 picks one per core)")
        if load_streams > 64:
            raise ConfigError(f"FLEETLAB_LOAD_STREAMS must be between 0 (one per core) and 64, not {load_streams}.")
        return cls(
            database_url=url,
            home=home,
            secret_key=key,
            platform_key=platform_key,
            previous_secret_keys=previous,
            allow_remote_reset=allow in ("1", "true", "yes"),
            lock_timeout=timeout,
            libpq_target=libpq_target,
            notebook_args=env.get("FLEETLAB_NOTEBOOK_ARGS") or "",
            cache_entries=cache_entries,
            cache_max_mb=cache_max_mb,
            load_streams=load_streams,
            test_database_url=env.get("FLEETLAB_TEST_DATABASE_URL") or None,
        )

    def replace(self, **changes) -> Settings:
        return replace(self, **changes)

    @property
    def embedded(self) -> bool:
        """True when fleetlab runs its own server (no DATABASE_URL)."""
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.home.resolve() / "pgdata"

    @property
    def key_file(self) -> Path:
        return self.home.resolve() / "secret.key"

    @property
    def key_file_missing(self) -> bool:
        """The key comes from the key file, which does not exist yet: a write of passwords creates it."""
        return self.secret_key is None and self.platform_key is None and not self.key_file.exists()


def _whole(env: Mapping[str, str], name: str, default: int, unit: str) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) > 1_000_000:
        raise ConfigError(f"{name} must be a whole number of {unit} (at most 1000000), not {raw!r}.")
    return int(raw)


def secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret configured in the environment, for scrubbing what is printed: the passwords of
    DATABASE_URL and FLEETLAB_TEST_DATABASE_URL (a whole value when it does not parse) and the keys.
    Never raises."""
    from .dsn import DatabaseURL

    env = os.environ if env is None else env
    out: list[str] = []
    for name in ("DATABASE_URL", "FLEETLAB_TEST_DATABASE_URL"):
        raw = env.get(name)
        if raw:
            try:
                out.append(DatabaseURL.parse(raw).password or "")
            except ConfigError:
                out.append(raw)
    for name in ("FLEETLAB_SECRET_KEY", "ENCRYPTION_KEY", "FLEETLAB_PREVIOUS_SECRET_KEYS"):
        out += [v.strip() for v in (env.get(name) or "").split(",") if len(v.strip()) >= 4]
    return [s for s in out if s]


def debugging(env: Mapping[str, str] | None = None) -> bool:
    """FLEETLAB_DEBUG is set: show the traceback of an unexpected error. Never raises."""
    return bool((os.environ if env is None else env).get("FLEETLAB_DEBUG"))

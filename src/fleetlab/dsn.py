"""Parsing and masking of PostgreSQL URLs.

fleetlab never hands a raw URL string to libpq: libpq echoes an unparseable connection string,
password included, in its error message. We parse the URL here, refuse what we do not
understand with a message that shows only the masked form, and pass libpq keyword arguments.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote

from .errors import ConfigError

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
MAINTENANCE_DB = "postgres"
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})

# query parameters passed through to libpq; anything else is refused
_ALLOWED_PARAMS = frozenset(
    {
        "host",
        "port",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
        "gssencmode",
        "channel_binding",
    }
)
_HINT = (
    "DATABASE_URL must look like postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE "
    "(unset it to use fleetlab's embedded server)."
)


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed PostgreSQL URL. The password never appears in repr() or str()."""

    host: str = ""
    port: int | None = None
    user: str = ""
    password: str | None = field(default=None, repr=False)
    dbname: str = ""
    params: tuple[tuple[str, str], ...] = ()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        """Parse a postgresql:// URL; raise ConfigError (with the masked URL only) if it is bad."""
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"DATABASE_URL is empty. {_HINT}")
        url = url.strip()
        shown = mask(url)
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
        if not m:
            # not echoed: a string that is not a URL may be a password pasted in the wrong place
            raise ConfigError(f"DATABASE_URL is not a URL (it does not start with postgresql://). {_HINT}")
        scheme = m.group(1).lower()
        if scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ConfigError(f"DATABASE_URL {shown!r} has scheme {scheme!r}, not postgresql. {_HINT}")
        rest = url[m.end() :]
        netloc, _, tail = rest.partition("/")
        if "?" in netloc:
            netloc, _, q = netloc.partition("?")
            tail = "?" + q
        path, _, query = tail.partition("?")
        if "#" in query or "#" in path:
            raise ConfigError(f"DATABASE_URL {shown!r} contains '#'. {_HINT}")
        userinfo, at, hostport = netloc.rpartition("@")
        if not at:
            userinfo, hostport = "", netloc
        user, colon, password = userinfo.partition(":")
        user = unquote(user)
        password = unquote(password) if colon else None
        host, port = _split_hostport(hostport, shown)
        dbname = unquote(path)
        if "/" in dbname:
            raise ConfigError(f"DATABASE_URL {shown!r}: the database name contains '/'. {_HINT}")
        params: list[tuple[str, str]] = []
        if query:
            for part in query.split("&"):
                if not part:
                    continue
                k, eq, v = part.partition("=")
                k, v = unquote(k), unquote(v)
                if not eq or k not in _ALLOWED_PARAMS:
                    raise ConfigError(
                        f"DATABASE_URL {shown!r}: unsupported query parameter {k!r}. "
                        f"Allowed: {', '.join(sorted(_ALLOWED_PARAMS))}."
                    )
                if k == "host":
                    host = v
                elif k == "port":
                    port = _parse_port(v, shown)
                else:
                    params.append((k, v))
        for ch in ("\x00", "\n", "\r"):
            if ch in user or ch in dbname or ch in host or (password and ch in password):
                raise ConfigError(f"DATABASE_URL {shown!r} contains a control character. {_HINT}")
        return cls(host=host, port=port, user=user, password=password, dbname=dbname, params=tuple(params))

    def with_dbname(self, dbname: str) -> DatabaseURL:
        return replace(self, dbname=dbname)

    # -- views -------------------------------------------------------------------------------

    @property
    def database(self) -> str:
        """The database name, with libpq's default (the user name) applied."""
        return self.dbname or self.user or "postgres"

    def connect_kwargs(self) -> dict[str, str | int]:
        """Keyword arguments for psycopg.connect / libpq."""
        kw: dict[str, str | int] = {"dbname": self.database}
        if self.host:
            kw["host"] = self.host
        if self.port:
            kw["port"] = self.port
        if self.user:
            kw["user"] = self.user
        if self.password is not None:
            kw["password"] = self.password
        kw.update(dict(self.params))
        if self.host.startswith("/"):
            # a socket path is this machine: a PGHOSTADDR or a service's hostaddr must not send it elsewhere
            kw.setdefault("hostaddr", "")
        return kw

    def render(self, *, driver: str | None = None, masked: bool = True) -> str:
        """The URL as text; the password replaced by *** unless masked=False."""
        scheme = "postgresql" + (f"+{driver}" if driver else "")
        auth = quote(self.user, safe="") if self.user else ""
        if self.password is not None:
            auth += ":" + ("***" if masked else quote(self.password, safe=""))
        if auth:
            auth += "@"
        query = list(self.params)
        hostpart = ""
        if self.host.startswith("/") or "," in self.host:
            query.insert(0, ("host", self.host))
            if self.port:
                query.insert(1, ("port", str(self.port)))
        elif self.host:
            hostpart = f"[{self.host}]" if ":" in self.host else self.host
            if self.port:
                hostpart += f":{self.port}"
        q = "&".join(f"{k}={quote(v, safe='/')}" for k, v in query)
        return f"{scheme}://{auth}{hostpart}/{quote(self.dbname, safe='')}" + (f"?{q}" if q else "")

    def __str__(self) -> str:
        return self.render()

    @property
    def hosts(self) -> list[str]:
        return [h for h in self.host.split(",")] if self.host else [""]

    @property
    def is_local(self) -> bool:
        """True when every host is a Unix socket, localhost or a loopback address."""
        return all(_is_local_host(h) for h in self.hosts)

    def reaches_local(self, libpq_env: dict[str, str] | None = None) -> bool:
        """True when libpq, given the PGHOST/PGHOSTADDR/PGSERVICE values in `libpq_env`, stays on this machine."""
        env = libpq_env or {}
        if env.get("PGSERVICE"):
            return False  # a service file can name any server
        if env.get("PGHOSTADDR") and not all(_is_local_host(h.strip()) for h in env["PGHOSTADDR"].split(",")):
            return False  # hostaddr overrides the host for the connection itself
        if not self.host and env.get("PGHOST"):
            return all(_is_local_host(h.strip()) for h in env["PGHOST"].split(","))
        return self.is_local

    @property
    def where(self) -> str:
        """A short description of the server for messages: host[:port]/database."""
        host = self.host or "local socket"
        port = f":{self.port}" if self.port else ""
        return f"{host}{port}/{self.database}"


def mask(url: str) -> str:
    """Hide the password of a URL-ish string, even a malformed one."""
    if not isinstance(url, str):
        return "<not a string>"
    # Mask generously: the input may be malformed (no scheme, unencoded '@' or '/' in the password,
    # no '@' at all), and whatever follows `user:` may be a password.
    scheme = re.match(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://", url)
    start = scheme.end() if scheme else 0
    head, sep, query = url[start:].partition("?")
    at = head.rfind("@")
    if at >= 0:
        # userinfo runs to the last '@' before the query: user:PASSWORD (the password may hold '@', '/', ':')
        user, colon, _ = head[:at].partition(":")
        if colon:
            head = f"{user}:***{head[at:]}"
    else:
        # no '@': `user:PASSWORD/db` cannot be told from `host:port/db` unless the "port" is a number
        authority, slash, path = head.partition("/")
        if not authority.startswith("[") and ":" in authority:
            host, _, port = authority.partition(":")
            if not port.isdigit():
                head = f"{host}:***{slash}{path}"
    out = url[:start] + head + sep + query
    # password as a query parameter or key=value pair
    out = re.sub(r"(?i)(password\s*=\s*)('[^']*'|[^&\s]*)", r"\1***", out)
    return out


def _split_hostport(hostport: str, shown: str) -> tuple[str, int | None]:
    if not hostport:
        return "", None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ConfigError(f"DATABASE_URL {shown!r}: unclosed '[' in the host. {_HINT}")
        host = hostport[1:end]
        rest = hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigError(f"DATABASE_URL {shown!r}: garbage after the host. {_HINT}")
        return host, _parse_port(rest[1:], shown) if rest else None
    if "," in hostport:
        # multi-host URL: keep as a libpq host list; ports per host are not supported
        if ":" in hostport:
            raise ConfigError(f"DATABASE_URL {shown!r}: per-host ports are not supported. {_HINT}")
        return unquote(hostport), None
    host, colon, port = hostport.partition(":")
    return unquote(host), (_parse_port(port, shown) if colon else None)


def _parse_port(text: str, shown: str) -> int | None:
    if text == "":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"DATABASE_URL {shown!r}: the port must be a number from 1 to 65535. {_HINT}")
    return int(text)


def _is_local_host(host: str) -> bool:
    if host == "" or host.startswith("/") or host.startswith("@"):
        return True  # Unix-domain socket (libpq default, a path, or an abstract socket)
    if host.lower().removesuffix(".") in ("localhost", "localhost.localdomain"):
        return True  # a trailing dot is the same name, fully qualified
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:  # the short IPv4 forms libpq's resolver accepts too: 127.1, 2130706433
        return ipaddress.IPv4Address(socket.inet_aton(host)).is_loopback
    except OSError:
        return False


def check_name_length(name: str) -> None:
    """Refuse a database name PostgreSQL would silently truncate onto another database's name."""
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise ConfigError(
            f"the database name {name[:20]!r}… is {size} bytes long; PostgreSQL keeps only "
            f"{MAX_IDENTIFIER_BYTES} bytes and would silently use a truncated name. Choose a shorter one."
        )


def check_database_name(name: str) -> None:
    """Refuse names PostgreSQL would truncate or that belong to the cluster itself."""
    if not name:
        raise ConfigError("the database name is empty; put one in DATABASE_URL (…/DATABASE).")
    check_name_length(name)
    if name in RESERVED_DATABASES:
        raise ConfigError(
            f"refusing to use the database {name!r}: it belongs to the PostgreSQL cluster itself. "
            "Put the name of a database of your own in DATABASE_URL."
        )
    if "\x00" in name:
        raise ConfigError("the database name contains a NUL character.")

"""A SQLAlchemy engine (psycopg 3) for the workbench database, for tools that want one (marimo's `mo.sql`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .query import URLLike, resolve_url, session_params

if TYPE_CHECKING:
    import sqlalchemy


def engine(url: URLLike = None, **kwargs: Any) -> sqlalchemy.Engine:
    """A SQLAlchemy engine (psycopg 3) for the workbench database, e.g. for marimo's `mo.sql(..., engine=...)`.

    It connects with the session parameters of every read connection (`fleetlab.read.query.session_params`),
    without read-only transactions. The URL is built from parsed parts, so the password never travels
    through a URL string; `engine.url` prints it masked. Extra keyword arguments go to
    `sqlalchemy.create_engine`.
    """
    import sqlalchemy

    target = resolve_url(url)
    query = session_params(target, read_only=False)
    if target.host:
        query["host"] = target.host
    sa_url = sqlalchemy.URL.create(
        "postgresql+psycopg",
        username=target.user or None,
        password=target.password,
        port=target.port,
        database=target.database,
        query=query,
    )
    connect_args = dict(kwargs.pop("connect_args", {}))
    if "options" not in query:
        # timestamptz then reads as UTC here too, as it does through read_sql
        connect_args.setdefault("options", "-c TimeZone=UTC")
    kwargs.setdefault("pool_pre_ping", True)
    return sqlalchemy.create_engine(sa_url, connect_args=connect_args, **kwargs)

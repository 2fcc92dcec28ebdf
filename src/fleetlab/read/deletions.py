"""The questions of `fleetlab.read.workbench.Workbench` about soft-deleted rows: which, where and when."""

from __future__ import annotations

import polars as pl

from ..errors import ConfigError
from ..model.tables import TABLES
from .filters import EVERYTHING, Filter, Query


class Deletions:
    """Part of `Workbench` (its `_query` and `_run`)."""

    def _deleted(self, where: Filter, table: str | None) -> tuple[str, Query]:
        """The soft-deleted rows (own deleted_at set) with where they were, as SQL, and its Query: the
        filter's organizations narrow all three tables; its models, firmware and statuses keep gateways
        only (organizations and factories have none)."""
        if table is not None and table not in TABLES:
            raise ConfigError(f"table must be one of {', '.join(TABLES)}, not {table!r}.")
        q = self._query(include_deleted=True, where=where)
        orgs, gateways_only = q.organizations_kept("o"), bool(where.models or where.firmware or where.statuses)
        parents = "FALSE" if gateways_only else "TRUE"
        sql = f"""
            SELECT 'organizations' AS "table", o.id, o.name, NULL::varchar AS gateway_id,
                   o.name AS organization, NULL::varchar AS factory, o.deleted_at
            FROM organizations o WHERE o.deleted_at IS NOT NULL AND {orgs} AND {parents}
            UNION ALL
            SELECT 'factories', f.id, f.name, NULL, o.name, f.name, f.deleted_at
            FROM factories f JOIN organizations o ON o.id = f.organization_id
            WHERE f.deleted_at IS NOT NULL AND {orgs} AND {parents}
            UNION ALL
            SELECT 'gateways', g.id, g.name, g.gateway_id, o.name, f.name, g.deleted_at
            FROM gateways g JOIN factories f ON f.id = g.factory_id JOIN organizations o ON o.id = f.organization_id
            WHERE g.deleted_at IS NOT NULL AND {orgs} AND {q.gateways_kept()}"""
        if table is not None:
            sql = f'SELECT * FROM ({sql}) d WHERE d."table" = {q.param("table", table, "text")}'
        return sql, q

    def deletions_by_month(self, *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Soft deletions per month (UTC) and table, of what `where` keeps (see `deleted_rows`), aggregated
        in PostgreSQL.

        Columns: month (Date, its first day), table, rows."""
        rows, q = self._deleted(where, None)
        sql = f"""
        SELECT (date_trunc('month', deleted_at AT TIME ZONE 'UTC'))::date AS month, "table", count(*) AS rows
        FROM ({rows}) d
        GROUP BY 1, 2
        ORDER BY 1, 2
        """
        return self._run(sql, q)

    def deleted_rows(
        self, *, table: str | None = None, where: Filter = EVERYTHING, limit: int | None = None
    ) -> pl.DataFrame:
        """Soft-deleted rows of the three tables (or of one `table`), most recently deleted first, with
        where they were: their organization's and factory's names. `where`'s organizations narrow every
        table; its models, firmware and statuses keep only gateways. `limit`: the most recent this many.

        Columns: table, id, name, gateway_id (gateways only), organization, factory (of a factory or a
        gateway), deleted_at.
        """
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ConfigError(f"limit must be a whole number of rows (0 or more) or None, not {limit!r}.")
        rows, q = self._deleted(where, table)
        count = "ALL" if limit is None else q.param("limit", limit, "bigint")
        return self._run(f'{rows}\n        ORDER BY deleted_at DESC, "table", id LIMIT {count}', q)

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
        orgs, gateways_only = q.organizations_kept("o"), where.narrows_gateways
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

    def deletions(
        self, *, where: Filter = EVERYTHING, limit: int | None = None, table: str | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """`deletions_by_month` and `deleted_rows` of the same filter (`table`, `limit`), from one pass
        over the soft-deleted rows: (by month, rows)."""
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ConfigError(f"limit must be a whole number of rows (0 or more) or None, not {limit!r}.")
        rows, q = self._deleted(where, table)
        count = "ALL" if limit is None else q.param("limit", limit, "bigint")
        sql = f"""
        WITH d AS MATERIALIZED ({rows})
        SELECT true AS monthly, (date_trunc('month', deleted_at AT TIME ZONE 'UTC'))::date AS month, "table",
               count(*) AS rows, NULL::text AS id, NULL::varchar AS name, NULL::varchar AS gateway_id,
               NULL::varchar AS organization, NULL::varchar AS factory, NULL::timestamptz AS deleted_at
        FROM d GROUP BY 2, 3
        UNION ALL
        (SELECT false, NULL, "table", NULL, id::text, name, gateway_id, organization, factory, deleted_at
         FROM d ORDER BY deleted_at DESC, "table", id LIMIT {count})
        """
        both = self._run(sql, q)
        by_month = both.filter(pl.col("monthly")).select("month", "table", "rows").sort("month", "table")
        listed = both.filter(~pl.col("monthly")).select(
            "table", "id", "name", "gateway_id", "organization", "factory", "deleted_at"
        )
        return by_month, listed.sort(["deleted_at", "table", "id"], descending=[True, False, False])

    def deletions_by_month(self, *, where: Filter = EVERYTHING) -> pl.DataFrame:
        """Soft deletions per month (UTC) and table, of what `where` keeps (see `deleted_rows`), aggregated
        in PostgreSQL.

        Columns: month (Date, its first day), table, rows."""
        return self.deletions(where=where, limit=0)[0]

    def deleted_rows(
        self, *, table: str | None = None, where: Filter = EVERYTHING, limit: int | None = None
    ) -> pl.DataFrame:
        """Soft-deleted rows of the three tables (or of one `table`), most recently deleted first, with
        where they were: their organization's and factory's names. `where`'s organizations narrow every
        table; its models, firmware and statuses keep only gateways. `limit`: the most recent this many.

        Columns: table, id, name, gateway_id (gateways only), organization, factory (of a factory or a
        gateway), deleted_at.
        """
        return self.deletions(where=where, limit=limit, table=table)[1]

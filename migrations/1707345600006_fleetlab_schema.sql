-- fleetlab's own bookkeeping leaves `public`: the migration history (schema_migrations) and the marker
-- (fleetlab_marker) move into a schema of their own, `fleetlab_meta`, so that `public` holds exactly what
-- the platform's migrations make (its three tables and node-pg-migrate's pgmigrations). Not `fleetlab`:
-- the embedded server's role is named fleetlab, and a schema named like the role comes first in the
-- default search_path ("$user", public), where every unqualified CREATE TABLE, ours or the platform's,
-- would then land. A database made before this migration has them in public and is moved in place,
-- rows and all; a new one already has them in `fleetlab_meta` and this does nothing. The runner records
-- this migration wherever its history is once the statements below have run (in the same transaction).

CREATE SCHEMA IF NOT EXISTS fleetlab_meta;

DO $$
BEGIN
    IF to_regclass('public.schema_migrations') IS NOT NULL AND to_regclass('fleetlab_meta.schema_migrations') IS NULL THEN
        ALTER TABLE public.schema_migrations SET SCHEMA fleetlab_meta;
    END IF;
    IF to_regclass('public.fleetlab_marker') IS NOT NULL AND to_regclass('fleetlab_meta.fleetlab_marker') IS NULL THEN
        ALTER TABLE public.fleetlab_marker SET SCHEMA fleetlab_meta;
    END IF;
END;
$$;

COMMENT ON SCHEMA fleetlab_meta IS 'fleetlab''s bookkeeping (migration history, marker); the platform''s tables are in public.';

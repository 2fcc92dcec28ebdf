-- The schema of the real platform (RoninSTi/mti-monorepo, node-pg-migrate 1707345600001..3),
-- names and widths included. The first three migrations were ported from a phase summary and
-- differ from it; they are applied in workbench databases already, so this one brings an
-- existing database to the platform's schema in place, and a fresh one ends identical to a
-- database built by the platform's own migrations (tests/test_platform_schema.py compares).

-- Narrowing a column fails on longer values: say which, and what to do, before trying.
DO $$
DECLARE
    too_long text;
BEGIN
    SELECT string_agg(format('%s.%s (%s rows over %s characters)', t, c, n, w), ', ')
    INTO too_long
    FROM (
        SELECT 'gateways' AS t, 'model' AS c, 100 AS w, count(*) AS n FROM gateways WHERE length(model) > 100
        UNION ALL
        SELECT 'gateways', 'firmware_version', 50, count(*) FROM gateways WHERE length(firmware_version) > 50
    ) AS over
    WHERE n > 0;
    IF too_long IS NOT NULL THEN
        RAISE EXCEPTION 'values too long for the platform''s schema: %', too_long
            USING HINT = 'shorten them (UPDATE gateways SET ...) or re-create the database with `fleetlab reset`, then run `fleetlab migrate` again';
    END IF;
END;
$$;

-- Column widths: location, timezone and url wider, model and firmware_version narrower.
ALTER TABLE factories
    ALTER COLUMN location TYPE varchar(500),
    ALTER COLUMN timezone TYPE varchar(100);
ALTER TABLE gateways
    ALTER COLUMN url TYPE varchar(500),
    ALTER COLUMN model TYPE varchar(100),
    ALTER COLUMN firmware_version TYPE varchar(50);

-- The trigger function under the platform's name and with its body (node-pg-migrate keeps
-- the definition text as written, and pg_dump shows it verbatim).
CREATE OR REPLACE FUNCTION update_updated_at_column()
  RETURNS TRIGGER
  AS $pga$
    BEGIN
      NEW.updated_at = NOW();
      RETURN NEW;
    END;
    $pga$
  VOLATILE
  LANGUAGE plpgsql;

DROP TRIGGER organizations_set_updated_at ON organizations;
DROP TRIGGER factories_set_updated_at ON factories;
DROP TRIGGER gateways_set_updated_at ON gateways;
DROP FUNCTION set_updated_at();

CREATE TRIGGER update_organizations_updated_at
    BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE PROCEDURE update_updated_at_column();
CREATE TRIGGER update_factories_updated_at
    BEFORE UPDATE ON factories
    FOR EACH ROW EXECUTE PROCEDURE update_updated_at_column();
CREATE TRIGGER update_gateways_updated_at
    BEFORE UPDATE ON gateways
    FOR EACH ROW EXECUTE PROCEDURE update_updated_at_column();

-- Index names.
ALTER INDEX organizations_active_index RENAME TO organizations_deleted_at_idx;
ALTER INDEX organizations_name_index RENAME TO organizations_name_idx;
ALTER INDEX factories_organization_id_index RENAME TO factories_organization_id_idx;
ALTER INDEX factories_active_index RENAME TO factories_deleted_at_idx;
ALTER INDEX factories_name_index RENAME TO factories_name_idx;
ALTER INDEX gateways_factory_id_index RENAME TO gateways_factory_id_idx;
ALTER INDEX gateways_gateway_id_unique_active RENAME TO gateways_gateway_id_unique_idx;
ALTER INDEX gateways_active_index RENAME TO gateways_deleted_at_idx;
ALTER INDEX gateways_last_seen_at_index RENAME TO gateways_last_seen_at_idx;

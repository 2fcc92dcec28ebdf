"""A production-like platform database that fleetlab did not generate: the platform's schema (its
migrations, no fleetlab marker, no fleetlab table), filled by SQL alone, shaped very unlike the presets.

One huge tenant and a long tail of tiny ones; time zones per tenant; model and firmware correlated
(each model ships its own firmware line), NULL models, rare firmware values; https, wss, ws and a
few http URLs; a long tail of silences; metadata of varied keys and types; soft-deleted rows and
replaced devices whose ids were reused. `make(conn, scale)` fills the connected, empty database
(`scale` 1: about 24,000 gateways; 42: about a million). Deterministic (setseed).

Also a script: `python tests/platform_source.py URL [SCALE]` (the database must exist and be empty).
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# the platform's three tables and node-pg-migrate's history (fleetlab's migrations 1-5 are the platform's schema)
AS_OF = "2026-06-01T12:00:00Z"
PLATFORM = sorted(MIGRATIONS.glob("170734560000[1-5]_*.sql"))

FILL = """
-- ids as the platform makes them (version 4), but from a digest, so that every run fills the same rows
CREATE FUNCTION pg_temp.uuid4(text) RETURNS uuid LANGUAGE sql IMMUTABLE
AS $$ SELECT overlay(overlay(md5($1) PLACING '4' FROM 13) PLACING '8' FROM 17)::uuid $$;
SELECT setseed(0.42);  -- every time below is measured from %(now)s (AS_OF), so a profile at AS_OF is exact
-- organizations: 1 giant, 4 large, the rest tiny; 5 % soft-deleted
INSERT INTO organizations (id, name, metadata, created_at, updated_at, deleted_at)
SELECT pg_temp.uuid4('o' || i), 'Customer ' || i, jsonb_build_object('contract', CASE WHEN i = 1 THEN 'contract-A17' ELSE 'contract-B' || i END),
       %(now)s - interval '900 days', %(now)s - interval '10 days',
       CASE WHEN i > 5 AND random() < 0.05 THEN %(now)s - interval '30 days' END
FROM generate_series(1, 60) AS i;

CREATE TEMP TABLE o AS SELECT id, row_number() OVER (ORDER BY name) AS i FROM organizations;

-- factories: the giant 40 * scale, the large 10, the tiny 1-3; zones by tenant; 5 % soft-deleted
INSERT INTO factories (id, organization_id, name, location, timezone, metadata, created_at, updated_at, deleted_at)
SELECT pg_temp.uuid4(o.i || 'f' || f), o.id, 'Plant ' || o.i || '-' || f, 'Secret Street ' || f || ', Somewhere',
       CASE WHEN o.i = 1 THEN (ARRAY['America/Chicago', 'Europe/Berlin', 'America/Chicago'])[1 + f % 3]
            WHEN o.i <= 5 THEN (ARRAY['Asia/Tokyo', 'Asia/Kolkata', 'Europe/Paris', 'Australia/Sydney'])[1 + (o.i + f) % 4]
            WHEN o.i IN (57, 58) THEN (ARRAY['Pacific/Chatham', 'Antarctica/Troll'])[o.i - 56]
            ELSE (ARRAY['America/Sao_Paulo', 'Europe/Madrid', 'Africa/Lagos', 'Asia/Seoul', 'America/Mexico_City',
                        'Europe/Warsaw', 'Asia/Jakarta', 'Europe/London'])[1 + (o.i * 7 + f) % 8] END,
       jsonb_build_object('code', 'X' || f), %(now)s - interval '800 days', %(now)s - interval '5 days',
       CASE WHEN random() < 0.05 THEN %(now)s - interval '20 days' END
FROM o, LATERAL generate_series(1, CASE WHEN o.i = 1 THEN 40 * %(scale)s WHEN o.i <= 5 THEN 10 * %(scale)s
                                       ELSE 1 + (o.i % 3) END) AS f;

CREATE TEMP TABLE fa AS
SELECT f.id, o.i AS org, row_number() OVER (ORDER BY f.id) AS k FROM factories f JOIN o ON o.id = f.organization_id;

-- gateways: the giant's factories 300-500 each, the large 50-80, the tiny 2-20
INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model, firmware_version,
                      last_seen_at, metadata, created_at, updated_at)
SELECT pg_temp.uuid4(fa.k || 'g' || g), fa.id, 'DEV-' || fa.k || '-' || g, 'Device ' || g,
       CASE WHEN u < 0.5 THEN 'https://dev' || fa.k || '-' || g || '.customer.example'
            WHEN u < 0.8 THEN 'wss://dev' || fa.k || '-' || g || '.customer.example:8443'
            ELSE 'ws://172.16.' || (fa.k % 250) || '.' || (g % 250) || ':5000' END,
       'ops' || fa.org || '@customer.example', '{"encrypted":"","iv":"","authTag":""}',
       CASE WHEN m < 0.03 THEN NULL WHEN m < 0.5 THEN 'Edge-9000' WHEN m < 0.8 THEN 'Edge-7000' ELSE 'Legacy-100' END,
       CASE WHEN m < 0.03 THEN 'v0.1'
            WHEN m < 0.5 THEN (ARRAY['v9.1.0', 'v9.2.0', 'v9.2.1'])[1 + (g % 3)]
            WHEN m < 0.8 THEN (ARRAY['v7.0.4', 'v7.1.0'])[1 + (g % 2)]
            ELSE 'v1.9' END,
       CASE WHEN s < 0.10 THEN NULL
            WHEN s < 0.30 THEN %(now)s - random() * interval '4 minutes'
            WHEN s < 0.60 THEN %(now)s - interval '6 minutes' - random() * random() * interval '23 hours'
            ELSE %(now)s - interval '25 hours' - exp(random() * 7) * interval '1 hour' END,
       CASE WHEN r < 0.6 THEN jsonb_build_object('serial', md5(fa.k || '-' || g), 'rack', g % 40)
            WHEN r < 0.7 THEN jsonb_build_object('serial', md5(fa.k || '-' || g), 'tags', jsonb_build_array('a'))
            ELSE jsonb_build_object('serial', md5(fa.k || '-' || g)) END,
       %(now)s - interval '700 days', %(now)s - interval '1 day'
FROM fa,
     LATERAL generate_series(1, CASE WHEN fa.org = 1 THEN 300 + (fa.k * 37) % 200 WHEN fa.org <= 5 THEN 50 + fa.k % 30
                                     ELSE 2 + (fa.k * 13) % 19 END) AS g,
     LATERAL (SELECT random() AS u, random() AS m, random() AS s, random() AS r, g AS _) AS d;

-- 8 % of devices soft-deleted; half of those replaced by a device that took over their id
UPDATE gateways SET deleted_at = %(now)s - interval '3 days' WHERE random() < 0.08;
INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted, model, firmware_version,
                      last_seen_at, metadata, created_at, updated_at)
SELECT pg_temp.uuid4('r' || id), factory_id, gateway_id, name || ' (replacement)', url, email, password_encrypted, model,
       firmware_version, %(now)s - interval '1 minute', metadata, %(now)s - interval '2 days', %(now)s - interval '2 days'
FROM gateways WHERE deleted_at IS NOT NULL AND random() < 0.5;

-- a customer's own words where a time zone should be (the platform takes any text), on six factories
UPDATE factories SET timezone = 'Plant 7 local time'
WHERE id IN (SELECT id FROM factories WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT 6);
-- values too rare to name (fewer than 5 rows each): a custom firmware build, a one-off metadata key,
-- a legacy http URL
UPDATE gateways SET firmware_version = 'v1.0-custom-build' WHERE id IN (SELECT id FROM gateways ORDER BY id LIMIT 2);
UPDATE gateways SET metadata = metadata || '{"vendor_note": "call Bob"}'
WHERE id IN (SELECT id FROM gateways WHERE deleted_at IS NULL ORDER BY id DESC LIMIT 3);
UPDATE gateways SET url = 'http://legacy.customer.example'
WHERE id IN (SELECT id FROM gateways WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT 2);
"""


def make(conn: psycopg.Connection, scale: int = 1) -> None:
    """The platform's schema and a skewed fleet in the connected (empty) database; committed."""
    for path in PLATFORM:
        conn.execute(path.read_text(encoding="utf-8"))
    conn.execute(FILL.replace("%(scale)s", str(int(scale))).replace("%(now)s", f"timestamptz '{AS_OF}'"))
    conn.execute("ANALYZE")
    conn.commit()


if __name__ == "__main__":
    with psycopg.connect(sys.argv[1]) as c:
        make(c, int(sys.argv[2]) if len(sys.argv) > 2 else 1)

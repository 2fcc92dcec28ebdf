-- The platform's own migration history (node-pg-migrate's `pgmigrations`), with its three
-- migrations recorded as run: the schema above is theirs, so the platform's `npm run db:migrate`
-- finds nothing to do on a fleetlab database instead of failing on tables that exist. A database
-- that already has the table (one the platform migrated) keeps its rows.

CREATE TABLE IF NOT EXISTS pgmigrations (
    id      serial       PRIMARY KEY,
    name    varchar(255) NOT NULL,
    run_on  timestamp    NOT NULL
);

INSERT INTO pgmigrations (name, run_on)
SELECT m.name, now()::timestamp
FROM (VALUES
    (1, '1707345600001_create-organizations'),
    (2, '1707345600002_create-factories'),
    (3, '1707345600003_create-gateways')
) AS m (position, name)
WHERE NOT EXISTS (SELECT 1 FROM pgmigrations p WHERE p.name = m.name)
ORDER BY m.position;

-- Factories: the sites of an organization.

CREATE TABLE factories (
    id               uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid         NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             varchar(255) NOT NULL,
    location         varchar(255),
    timezone         varchar(64)  NOT NULL DEFAULT 'UTC',
    metadata         jsonb        NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

CREATE INDEX factories_organization_id_index ON factories (organization_id);
CREATE INDEX factories_name_index ON factories (name);
CREATE INDEX factories_active_index ON factories (deleted_at) WHERE deleted_at IS NULL;

CREATE TRIGGER factories_set_updated_at
    BEFORE UPDATE ON factories
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

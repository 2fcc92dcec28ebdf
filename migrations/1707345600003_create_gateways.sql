-- Gateways: the edge devices of a factory. gateway_id is unique among active rows only,
-- so a soft-deleted gateway's id can be reused by its replacement.

CREATE TABLE gateways (
    id                  uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    factory_id          uuid         NOT NULL REFERENCES factories (id) ON DELETE CASCADE,
    gateway_id          varchar(255) NOT NULL,
    name                varchar(255) NOT NULL,
    url                 varchar(255) NOT NULL,
    email               varchar(255) NOT NULL,
    password_encrypted  text         NOT NULL,
    model               varchar(255),
    firmware_version    varchar(64),
    last_seen_at        timestamptz,
    metadata            jsonb        NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz  NOT NULL DEFAULT now(),
    updated_at          timestamptz  NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);

CREATE INDEX gateways_factory_id_index ON gateways (factory_id);
CREATE UNIQUE INDEX gateways_gateway_id_unique_active ON gateways (gateway_id) WHERE deleted_at IS NULL;
CREATE INDEX gateways_last_seen_at_index ON gateways (last_seen_at);
CREATE INDEX gateways_active_index ON gateways (deleted_at) WHERE deleted_at IS NULL;

CREATE TRIGGER gateways_set_updated_at
    BEFORE UPDATE ON gateways
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

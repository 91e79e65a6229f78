-- PostgreSQL's 0001_base (hearth/registry/migrate.py: this file replaces ../0001_base.sql on
-- PostgreSQL). The same tables, columns and checks in PostgreSQL's dialect; only the tariff
-- overlap triggers differ in form.
-- 0001 base: households, tenants, devices, tariffs, consent_log, audit_log.
-- Enumerations are CHECKed here and listed again in hearth/registry/models.py (keep in step).
-- Dates are ISO 'YYYY-MM-DD' text, times ISO 8601 UTC text ('YYYY-MM-DDTHH:MM:SSZ');
-- the `hearth_is_date(x)` checks refuse anything else (a bare = would let NULL through). Booleans are 0/1.

CREATE TABLE households (
    household_id          TEXT PRIMARY KEY CHECK (length(household_id) BETWEEN 1 AND 32),
    patch                 TEXT NOT NULL CHECK (patch <> ''),
    estate                TEXT NOT NULL CHECK (estate <> ''),
    address_area          TEXT NOT NULL DEFAULT '',
    property_type         TEXT NOT NULL
                          CHECK (property_type IN ('flat', 'maisonette', 'house', 'bungalow')),
    bedrooms              INTEGER NOT NULL CHECK (bedrooms BETWEEN 0 AND 10),
    floor_area_m2         DOUBLE PRECISION NOT NULL CHECK (floor_area_m2 > 0 AND floor_area_m2 < 1000),
    payment_type          TEXT NOT NULL CHECK (payment_type IN ('prepayment', 'credit')),
    has_gas               INTEGER NOT NULL CHECK (has_gas IN (0, 1)),
    heating               TEXT NOT NULL CHECK (heating IN ('gas', 'electric')),
    epc_band              TEXT NOT NULL CHECK (epc_band IN ('A', 'B', 'C', 'D', 'E', 'F', 'G')),
    means_tested_benefits INTEGER NOT NULL CHECK (means_tested_benefits IN (0, 1)),
    vulnerable            INTEGER NOT NULL CHECK (vulnerable IN (0, 1)),
    vulnerability_notes   TEXT NOT NULL DEFAULT '',
    occupancy             TEXT NOT NULL
                          CHECK (occupancy IN ('working', 'home_all_day', 'night_worker')),
    occupants             INTEGER NOT NULL CHECK (occupants BETWEEN 1 AND 20),
    tenancy_start         TEXT NOT NULL CHECK (hearth_is_date(tenancy_start)),
    tenancy_end           TEXT CHECK (tenancy_end IS NULL OR
                                      (hearth_is_date(tenancy_end)
                                       AND tenancy_end >= tenancy_start)),
    CHECK (heating = 'electric' OR has_gas = 1)
);

CREATE INDEX households_patch_estate ON households (patch, estate);
CREATE INDEX households_payment_type ON households (payment_type);

CREATE TABLE tenants (
    tenant_id            TEXT PRIMARY KEY CHECK (length(tenant_id) BETWEEN 1 AND 32),
    household_id         TEXT NOT NULL REFERENCES households (household_id),
    full_name            TEXT NOT NULL CHECK (full_name <> ''),
    -- UK mobile in E.164 (+447 and 9 digits); NULL when the tenant gave none.
    mobile               TEXT CHECK (mobile IS NULL OR
                                     (length(mobile) = 13 AND (mobile ~ '^\+447[0-9].*$')
                                      AND NOT (substr(mobile, 2) ~ '^.*[^0-9].*$'))),
    sms_consent          INTEGER NOT NULL DEFAULT 0 CHECK (sms_consent IN (0, 1)),
    sms_consent_at       TEXT CHECK (sms_consent_at IS NULL OR
                                     (sms_consent_at ~ '^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T.*$')),
    sms_consent_source   TEXT CHECK (sms_consent_source IS NULL OR sms_consent_source IN
                                     ('tenancy_signup', 'officer_visit', 'phone_call', 'web_form',
                                      'text_reply', 'letter')),
    opted_out_at         TEXT CHECK (opted_out_at IS NULL OR
                                     (opted_out_at ~ '^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T.*$')),
    share_with_supplier  INTEGER NOT NULL DEFAULT 0 CHECK (share_with_supplier IN (0, 1)),
    -- Consent is only recorded with its time and source, and only for a number to text.
    CHECK (sms_consent = 0 OR (sms_consent_at IS NOT NULL AND sms_consent_source IS NOT NULL
                               AND mobile IS NOT NULL))
);

CREATE INDEX tenants_household ON tenants (household_id);

CREATE TABLE devices (
    device_id     TEXT PRIMARY KEY CHECK (length(device_id) BETWEEN 1 AND 64),
    household_id  TEXT NOT NULL REFERENCES households (household_id),
    kind          TEXT NOT NULL CHECK (kind IN ('electricity_meter', 'gas_meter', 'thermostat')),
    protocol      TEXT NOT NULL CHECK (protocol IN ('modbus', 'mqtt')),
    gateway_host  TEXT,
    gateway_port  INTEGER CHECK (gateway_port IS NULL OR gateway_port BETWEEN 1 AND 65535),
    unit_id       INTEGER CHECK (unit_id IS NULL OR unit_id BETWEEN 1 AND 247),
    register_map  TEXT,
    mqtt_topic    TEXT,
    room          TEXT CHECK (room IS NULL OR
                              room IN ('living_room', 'bedroom', 'kitchen', 'bathroom', 'hall')),
    interval_s    INTEGER NOT NULL CHECK (interval_s BETWEEN 1 AND 86400),
    CHECK (protocol <> 'modbus' OR (gateway_host IS NOT NULL AND gateway_port IS NOT NULL
                                    AND unit_id IS NOT NULL AND register_map IS NOT NULL
                                    AND mqtt_topic IS NULL)),
    CHECK (protocol <> 'mqtt' OR (mqtt_topic IS NOT NULL AND gateway_host IS NULL
                                  AND gateway_port IS NULL AND unit_id IS NULL)),
    CHECK (kind <> 'thermostat' OR room IS NOT NULL)
);

CREATE INDEX devices_household ON devices (household_id);
CREATE INDEX devices_protocol_kind ON devices (protocol, kind);
-- One meter per unit id behind a gateway; one device per MQTT topic.
CREATE UNIQUE INDEX devices_gateway_unit ON devices (gateway_host, gateway_port, unit_id)
    WHERE protocol = 'modbus';
CREATE UNIQUE INDEX devices_mqtt_topic ON devices (mqtt_topic) WHERE protocol = 'mqtt';

CREATE TABLE tariffs (
    tariff_id                    TEXT PRIMARY KEY CHECK (length(tariff_id) BETWEEN 1 AND 64),
    fuel                         TEXT NOT NULL CHECK (fuel IN ('electricity', 'gas')),
    payment_type                 TEXT NOT NULL CHECK (payment_type IN ('prepayment', 'credit')),
    unit_rate_gbp_per_kwh        DOUBLE PRECISION NOT NULL CHECK (unit_rate_gbp_per_kwh >= 0
                                                      AND unit_rate_gbp_per_kwh < 10),
    standing_charge_gbp_per_day  DOUBLE PRECISION NOT NULL CHECK (standing_charge_gbp_per_day >= 0
                                                      AND standing_charge_gbp_per_day < 100),
    valid_from                   TEXT NOT NULL CHECK (hearth_is_date(valid_from)),
    -- Last day the tariff applies (inclusive); NULL while it is current and open-ended.
    valid_to                     TEXT CHECK (valid_to IS NULL OR
                                             (hearth_is_date(valid_to) AND valid_to >= valid_from))
);

CREATE INDEX tariffs_lookup ON tariffs (fuel, payment_type, valid_from);

-- Two tariffs of one fuel and payment type never apply on the same day (SQLite: two triggers
-- that RAISE(ABORT); here one trigger function raising check_violation, an IntegrityError).
CREATE FUNCTION tariffs_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM tariffs t
               WHERE (TG_OP = 'INSERT' OR t.tariff_id <> OLD.tariff_id)
                 AND t.fuel = NEW.fuel AND t.payment_type = NEW.payment_type
                 AND t.valid_from <= coalesce(NEW.valid_to, '9999-12-31')
                 AND NEW.valid_from <= coalesce(t.valid_to, '9999-12-31')) THEN
        RAISE EXCEPTION 'tariff period overlaps another tariff of the same fuel and payment type'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER tariffs_no_overlap BEFORE INSERT OR UPDATE ON tariffs
FOR EACH ROW EXECUTE FUNCTION tariffs_no_overlap();

-- Every change of a tenant's SMS consent, kept as evidence (UK GDPR / PECR).
CREATE TABLE consent_log (
    consent_id  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    at          TEXT NOT NULL CHECK ((at ~ '^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T.*$')),
    channel     TEXT NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms')),
    event       TEXT NOT NULL CHECK (event IN ('granted', 'withdrawn', 'opted_out')),
    source      TEXT NOT NULL CHECK (source <> ''),
    actor       TEXT NOT NULL CHECK (actor <> '')
);

CREATE INDEX consent_log_tenant ON consent_log (tenant_id, at);

-- Who did what to which record. `detail` is JSON and never holds a name or a phone number.
CREATE TABLE audit_log (
    audit_id  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor     TEXT NOT NULL CHECK (actor <> ''),
    action    TEXT NOT NULL CHECK (action <> ''),
    target    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '{}' CHECK (hearth_json_valid(detail))
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target, at);

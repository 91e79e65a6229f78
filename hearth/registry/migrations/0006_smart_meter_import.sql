-- 0006 smart-meter data through consumer-access providers (issue 12): where a household's
-- meter points are known to a provider, how far each has been imported, and the tenants'
-- consent to fetch their half-hourly data. Self-contained: renumber freely at merge time.
-- Credentials are never stored here: credential_ref names a secret (environment or
-- var/secrets/), so the registry's exports never hold one.

-- One meter point per household, fuel and provider. MPAN: 13 digits (the core of the
-- electricity supply number); MPRN: 6 to 10 digits. Personal data: never sent to InfluxDB or logs.
CREATE TABLE meter_points (
    household_id    TEXT NOT NULL REFERENCES households (household_id),
    fuel            TEXT NOT NULL CHECK (fuel IN ('electricity', 'gas')),
    provider        TEXT NOT NULL CHECK (provider IN ('n3rgy', 'glowmarkt', 'octopus')),
    mpxn            TEXT NOT NULL CHECK (mpxn <> '' AND mpxn NOT GLOB '*[^0-9]*' AND (
                        (fuel = 'electricity' AND length(mpxn) = 13) OR
                        (fuel = 'gas' AND length(mpxn) BETWEEN 6 AND 10))),
    meter_serial    TEXT CHECK (meter_serial IS NULL OR meter_serial <> ''),
    resource_id     TEXT CHECK (resource_id IS NULL OR resource_id <> ''),
    credential_ref  TEXT CHECK (credential_ref IS NULL OR
                                (credential_ref <> '' AND credential_ref NOT GLOB '*[^A-Za-z0-9_]*')),
    -- What the provider reports gas in, where its response does not say (Octopus: m3 from
    -- SMETS2 meters, kWh from SMETS1).
    gas_unit        TEXT CHECK (gas_unit IS NULL OR gas_unit IN ('m3', 'kwh')),
    added_at        TEXT NOT NULL CHECK (added_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    PRIMARY KEY (household_id, fuel, provider),
    CHECK (provider <> 'octopus' OR meter_serial IS NOT NULL),
    CHECK (provider <> 'octopus' OR fuel <> 'gas' OR gas_unit IS NOT NULL),
    CHECK (provider <> 'glowmarkt' OR resource_id IS NOT NULL)
) WITHOUT ROWID;

-- One provider per household and fuel: two would write the same usage_30m half hours. Adding
-- a point with another provider (INSERT OR REPLACE) replaces the old one.
CREATE UNIQUE INDEX meter_points_one_per_fuel ON meter_points (household_id, fuel);

-- The start of the last half hour each meter point delivered (UTC ISO): a daily run fetches
-- from there, less the look-back for late data.
CREATE TABLE import_state (
    household_id         TEXT NOT NULL,
    fuel                 TEXT NOT NULL CHECK (fuel IN ('electricity', 'gas')),
    provider             TEXT NOT NULL CHECK (provider <> ''),
    last_interval_start  TEXT NOT NULL
                         CHECK (last_interval_start GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    updated_at           TEXT NOT NULL CHECK (updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    PRIMARY KEY (household_id, fuel, provider)
) WITHOUT ROWID;

-- Every grant and withdrawal of a tenant's consent to fetch their smart meter's half-hourly
-- data from a consumer-access provider. A tenant's latest event is their current choice.
CREATE TABLE smart_meter_consent_log (
    smart_consent_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    household_id      TEXT NOT NULL,
    at                TEXT NOT NULL CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    event             TEXT NOT NULL CHECK (event IN ('granted', 'withdrawn')),
    source            TEXT NOT NULL CHECK (source <> ''),
    actor             TEXT NOT NULL CHECK (actor <> '')
);

CREATE INDEX smart_meter_consent_log_household ON smart_meter_consent_log (household_id, at);

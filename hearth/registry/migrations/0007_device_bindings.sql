-- 0007 device bindings (issue 12): a real MQTT device, by the id it reports itself by (a
-- Zigbee friendly name, a Glow CAD id, a Tasmota topic, a Shelly id), bound to a household
-- with the profile that reads it (config/profiles/*.toml). The collector dead-letters a
-- message from a device with no binding (unknown_device); it never guesses the household.
CREATE TABLE device_bindings (
    profile      TEXT NOT NULL CHECK (length(profile) BETWEEN 1 AND 64),
    device_ref   TEXT NOT NULL CHECK (length(device_ref) BETWEEN 1 AND 128),
    kind         TEXT NOT NULL CHECK (kind IN ('electricity_meter', 'gas_meter', 'thermostat',
                                               'appliance')),
    household_id TEXT NOT NULL REFERENCES households (household_id),
    device_id    TEXT NOT NULL UNIQUE CHECK (length(device_id) BETWEEN 1 AND 64
                                             AND device_id NOT GLOB '*[^A-Za-z0-9_.-]*'),
    room         TEXT CHECK (room IS NULL OR
                             room IN ('living_room', 'bedroom', 'kitchen', 'bathroom', 'hall')),
    time_zone    TEXT,
    bound_at     TEXT NOT NULL,
    PRIMARY KEY (profile, device_ref, kind),
    CHECK (kind <> 'thermostat' OR room IS NOT NULL)
) WITHOUT ROWID;

CREATE INDEX device_bindings_household ON device_bindings (household_id);

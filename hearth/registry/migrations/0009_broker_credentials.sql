-- 0009 broker credentials (issue 14): one MQTT identity per home's hub (the in-home gateway
-- that publishes for the home's MQTT devices, as a Glow CAD or a Zigbee2MQTT bridge does).
-- The broker's password file is written from password_hash (Mosquitto's PBKDF2-SHA512 "$7$"
-- format); the plaintext is kept only until the installer or simulator has what it needs
-- (`hearth registry device-credentials DEVICE --forget` clears it).
CREATE TABLE broker_credentials (
    username      TEXT PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 100),
    household_id  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL CHECK (password_hash GLOB '$7$*'),
    password      TEXT,
    created_at    TEXT NOT NULL,
    rotated_at    TEXT
) WITHOUT ROWID;

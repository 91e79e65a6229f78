-- 0011 tenant portal (issue 16; allotted 0012, numbered 0011 after main's 0001-0010): one-time
-- sign-in codes, sign-in attempts for rate limits, read-only share links, record corrections proposed
-- by tenants, problems reported by tenants, and consent to research.
-- Numbers are never stored here in clear: `number_key` is an HMAC of the mobile number with a
-- secret from var/secrets (so an unknown number can be rate-limited without keeping it).

CREATE TABLE tenant_signin_codes (
    code_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    number_key    TEXT NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    household_id  TEXT NOT NULL,
    code_hash     TEXT NOT NULL,                 -- argon2 hash of the code, never the code
    created_at    TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    expires_at    TEXT NOT NULL,
    used_at       TEXT,                          -- single use: set on the successful sign-in
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0)
);
CREATE INDEX tenant_signin_codes_number ON tenant_signin_codes (number_key, created_at);

-- Every code request and every code tried, known number or not, for the rate limits.
CREATE TABLE tenant_signin_attempts (
    attempt_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    kind          TEXT NOT NULL CHECK (kind IN ('request', 'verify_failed', 'verify_ok')),
    number_key    TEXT NOT NULL,
    address       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tenant_signin_attempts_number ON tenant_signin_attempts (number_key, kind, at);
CREATE INDEX tenant_signin_attempts_address ON tenant_signin_attempts (address, kind, at);

-- A read-only view a tenant shares with someone they choose. The token is random (256 bits)
-- and only its SHA-256 is kept.
CREATE TABLE tenant_shares (
    share_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT NOT NULL UNIQUE,
    household_id  TEXT NOT NULL REFERENCES households (household_id),
    tenant_id     TEXT NOT NULL,
    label         TEXT NOT NULL CHECK (label <> '' AND length(label) <= 80),
    scope         TEXT NOT NULL CHECK (scope IN ('usage', 'cases', 'usage,cases')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX tenant_shares_household ON tenant_shares (household_id, created_at);

-- A change to the record the tenant proposes; an officer accepts or rejects it.
CREATE TABLE record_corrections (
    correction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL REFERENCES households (household_id),
    tenant_id     TEXT NOT NULL,
    field         TEXT NOT NULL CHECK (field IN ('mobile', 'occupants', 'vulnerability')),
    new_value     TEXT NOT NULL,
    proposed_at   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'accepted', 'rejected', 'withdrawn')),
    decided_at    TEXT,
    decided_by    TEXT,
    decision_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX record_corrections_status ON record_corrections (status, proposed_at);
CREATE INDEX record_corrections_household ON record_corrections (household_id);

-- A problem the tenant reported; case_id is the case it opened or joined (NULL when the
-- cases table has no kind for it yet: it stays on the officers' tenant requests page).
CREATE TABLE tenant_reports (
    report_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL REFERENCES households (household_id),
    tenant_id     TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('damp_mould', 'cold_home', 'too_hot',
                                                'meter_fault', 'thermostat_fault')),
    description   TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    photo_path    TEXT,                          -- under var/tenant_photos, never in InfluxDB
    reported_at   TEXT NOT NULL,
    case_id       INTEGER,
    joined        INTEGER NOT NULL DEFAULT 0 CHECK (joined IN (0, 1)),
    seen_at       TEXT,
    seen_by       TEXT
);
CREATE INDEX tenant_reports_household ON tenant_reports (household_id, reported_at);

-- Consent to use the home's anonymised data for research, beside SMS and supplier consent.
ALTER TABLE tenants ADD COLUMN research_consent INTEGER NOT NULL DEFAULT 0
    CHECK (research_consent IN (0, 1));
CREATE TABLE research_consent_log (
    research_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    household_id  TEXT NOT NULL,
    at            TEXT NOT NULL CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    event         TEXT NOT NULL CHECK (event IN ('granted', 'withdrawn')),
    source        TEXT NOT NULL CHECK (source <> ''),
    actor         TEXT NOT NULL CHECK (actor <> '')
);
CREATE INDEX research_consent_log_household ON research_consent_log (household_id, at);

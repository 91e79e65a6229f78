-- 0004 tenants' data rights (issue 7): the history of consent to share data with the energy
-- supplier, and the erasure log of what the end of a tenancy removed (never the removed values).

-- Every grant and withdrawal of consent to share a tenant's data with their energy supplier.
-- (SMS consent stays in consent_log, whose channel is 'sms' only.)
CREATE TABLE sharing_consent_log (
    sharing_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    household_id  TEXT NOT NULL,
    at            TEXT NOT NULL CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    recipient     TEXT NOT NULL DEFAULT 'supplier' CHECK (recipient IN ('supplier')),
    event         TEXT NOT NULL CHECK (event IN ('granted', 'withdrawn')),
    source        TEXT NOT NULL CHECK (source <> ''),
    actor         TEXT NOT NULL CHECK (actor <> '')
);

CREATE INDEX sharing_consent_log_household ON sharing_consent_log (household_id, at);

-- What the end of a tenancy removed: which field of which row, when and by whom. The removed
-- value itself is never stored here (that would defeat the erasure).
CREATE TABLE erasure_log (
    erasure_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL,
    at            TEXT NOT NULL CHECK (at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    tenancy_end   TEXT NOT NULL CHECK (tenancy_end IS date(tenancy_end)),
    actor         TEXT NOT NULL CHECK (actor <> ''),
    location      TEXT NOT NULL CHECK (location <> ''),   -- table name, or 'outbox' / a file
    row_key       TEXT NOT NULL DEFAULT '',               -- tenant_id, message_id, line number
    field         TEXT NOT NULL CHECK (field <> ''),
    action        TEXT NOT NULL CHECK (action IN ('cleared', 'redacted'))
);

CREATE INDEX erasure_log_household ON erasure_log (household_id, at);

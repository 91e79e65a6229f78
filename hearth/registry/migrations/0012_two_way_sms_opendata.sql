-- Two-way SMS and open data publications (issue 14 "STOP, receipts, consent" and "open data
-- differencing", issue 16 "Two-way SMS").
-- (Assigned 0010 at planning; 0012 on main, after 0010 reference figures and 0011 tenant portal.)

-- sms_log gains three statuses:
--   outbox     written to the local outbox file: NOT sent to anyone (no Notify key);
--   sent       GOV.UK Notify's 'sent': handed to an international network, no receipt comes;
--   cancelled  never handed to a sender: consent withdrawn (or the number fails) first.
CREATE TABLE sms_log_0010 (
    message_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL,
    case_id      INTEGER REFERENCES cases (case_id),
    template     TEXT NOT NULL,
    sent_at      TEXT,
    sender       TEXT CHECK (sender IS NULL OR sender IN ('outbox', 'notify')),
    provider_id  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'delivered', 'sent',
                     'outbox', 'permanent-failure', 'temporary-failure', 'technical-failure',
                     'skipped', 'cancelled')),
    skip_reason  TEXT,
    body         TEXT,
    send_after   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT
);
INSERT INTO sms_log_0010 (message_id, household_id, case_id, template, sent_at, sender,
                          provider_id, status, skip_reason, body, send_after, created_at,
                          updated_at)
    SELECT message_id, household_id, case_id, template, sent_at, sender, provider_id,
           CASE WHEN sender = 'outbox' AND status = 'delivered' THEN 'outbox' ELSE status END,
           skip_reason, body, send_after, created_at, updated_at FROM sms_log;
DROP TABLE sms_log;
ALTER TABLE sms_log_0010 RENAME TO sms_log;
CREATE INDEX sms_log_household ON sms_log (household_id, sent_at);
CREATE INDEX sms_log_case ON sms_log (case_id);
CREATE INDEX sms_log_status ON sms_log (status);
CREATE INDEX sms_log_provider ON sms_log (provider_id);

-- Texts tenants send back (GOV.UK Notify received texts), each processed once (the primary key
-- is Notify's id). Never the number: the household and tenant it matched, or none.
CREATE TABLE sms_replies (
    reply_id      TEXT PRIMARY KEY,               -- GOV.UK Notify received text id
    received_at   TEXT NOT NULL,                  -- Notify's created_at, UTC ISO
    processed_at  TEXT NOT NULL,
    household_id  TEXT,                           -- NULL: the number is not in the registry
    tenant_id     TEXT REFERENCES tenants (tenant_id) ON DELETE SET NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('stop', 'help', 'other')),
    action        TEXT NOT NULL,                  -- what Hearth did: opted_out, help_sent, ...
    content       TEXT,                           -- the tenant's words (cleared at erasure)
    handled_at    TEXT,                           -- an officer dealt with it
    handled_by    TEXT
);
CREATE INDEX sms_replies_received ON sms_replies (received_at);
CREATE INDEX sms_replies_household ON sms_replies (household_id, received_at);

-- Where reading replies got to: Notify lists newest first and keeps them 7 days.
CREATE TABLE notify_cursor (
    name          TEXT PRIMARY KEY,
    last_id       TEXT,
    last_at       TEXT,
    updated_at    TEXT NOT NULL
);

-- A number Notify could not deliver to (permanent-failure): no text goes to it until the
-- number changes, and the officer has a data-quality task to get a working one. The number is
-- kept only as a SHA-256 digest, to notice when the registry's number has changed.
CREATE TABLE sms_number_tasks (
    task_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    number_sha256 TEXT NOT NULL,
    message_id    INTEGER,                        -- the sms_log row that failed
    opened_at     TEXT NOT NULL,
    closed_at     TEXT,
    close_reason  TEXT
);
CREATE UNIQUE INDEX sms_number_tasks_one_open ON sms_number_tasks (tenant_id)
    WHERE closed_at IS NULL;

-- Open data: every table published, and every cell of it with the households behind it, so
-- that a later table of the same month can be checked against all earlier ones (differencing).
CREATE TABLE opendata_publications (
    publication_id INTEGER PRIMARY KEY AUTOINCREMENT,
    period         TEXT NOT NULL,                 -- YYYY-MM
    area_type      TEXT NOT NULL,                 -- patch | estate | address_area
    published_at   TEXT NOT NULL,
    csv_name       TEXT NOT NULL,
    min_group_homes INTEGER NOT NULL
);
CREATE INDEX opendata_publications_period ON opendata_publications (period);

CREATE TABLE opendata_cells (
    publication_id INTEGER NOT NULL REFERENCES opendata_publications (publication_id),
    fuel           TEXT NOT NULL,
    area           TEXT NOT NULL,
    property_type  TEXT NOT NULL,
    level          TEXT NOT NULL,
    published      INTEGER NOT NULL CHECK (published IN (0, 1)),
    reason         TEXT,                          -- why hidden: small, secondary, differencing
    homes          INTEGER,                       -- as published (NULL when hidden)
    energy_kwh     REAL,
    cost_gbp       REAL,
    members_json   TEXT NOT NULL DEFAULT '[]',    -- sorted pseudonymous household ids
    PRIMARY KEY (publication_id, fuel, area, property_type, level)
);

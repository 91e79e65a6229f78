-- Advisor: cases flagged by the risk rules, their history, and the SMS tips sent.
-- Contract: docs/architecture.md "Cases and messages". Owned by advisor/ (issue 5).

CREATE TABLE IF NOT EXISTS cases (
    case_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('bill_shock', 'credit_runout',
                      'self_disconnection', 'self_rationing', 'cold_home', 'damp_mould',
                      'fuel_poverty', 'device_fault')),
    severity      TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'emergency')),
    score         REAL NOT NULL CHECK (score >= 0 AND score <= 100),
    reasons       TEXT NOT NULL,              -- plain English with numbers
    evidence_json TEXT NOT NULL DEFAULT '{}', -- the numbers behind the reasons
    opened_at     TEXT NOT NULL,              -- UTC ISO 8601
    updated_at    TEXT NOT NULL,
    due_by        TEXT,                       -- UTC ISO; Awaab's Law clock for damp_mould
    stage         TEXT CHECK (stage IS NULL OR stage IN ('investigate', 'written_summary',
                      'safety_work', 'made_safe')),
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged',
                      'resolved', 'dismissed')),
    officer       TEXT,
    clear_since   TEXT,                       -- condition not seen since (auto-close clock)
    closed_at     TEXT,
    close_reason  TEXT
);

-- One open (open or acknowledged) case per household and kind.
CREATE UNIQUE INDEX IF NOT EXISTS cases_one_open
    ON cases (household_id, kind) WHERE status IN ('open', 'acknowledged');
CREATE INDEX IF NOT EXISTS cases_status ON cases (status, severity);
CREATE INDEX IF NOT EXISTS cases_household ON cases (household_id);

CREATE TABLE IF NOT EXISTS case_events (
    event_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id   INTEGER NOT NULL REFERENCES cases (case_id),
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,                  -- 'advisor' or an officer's username
    action    TEXT NOT NULL CHECK (action IN ('opened', 'worsened', 'improved', 'acknowledged',
                  'assigned', 'note', 'resolved', 'dismissed', 'auto_closed', 'tip_sent',
                  'stage')),
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS case_events_case ON case_events (case_id, at);

-- Every tip considered: sent, deferred (queued with send_after) or skipped with the reason.
-- Never a phone number: it is looked up from tenants at send time.
CREATE TABLE IF NOT EXISTS sms_log (
    message_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL,
    case_id      INTEGER REFERENCES cases (case_id),
    template     TEXT NOT NULL,
    sent_at      TEXT,                        -- UTC ISO; NULL until sent
    sender       TEXT CHECK (sender IS NULL OR sender IN ('outbox', 'notify')),
    provider_id  TEXT,                        -- GOV.UK Notify notification id
    status       TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'delivered',
                     'permanent-failure', 'temporary-failure', 'technical-failure', 'skipped')),
    skip_reason  TEXT,
    body         TEXT,
    send_after   TEXT,                        -- deferred by quiet hours: send from this time
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT
);
CREATE INDEX IF NOT EXISTS sms_log_household ON sms_log (household_id, sent_at);
CREATE INDEX IF NOT EXISTS sms_log_case ON sms_log (case_id);
CREATE INDEX IF NOT EXISTS sms_log_status ON sms_log (status);

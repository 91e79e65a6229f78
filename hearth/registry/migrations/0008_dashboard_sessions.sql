-- 0008 dashboard sessions: a signed-in officer stays signed in across reloads and deep links.
-- Only a SHA-256 of each session token is kept: a copy of the registry cannot sign anyone in.
CREATE TABLE dashboard_sessions (
    token_sha256 TEXT PRIMARY KEY,
    username     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (username);

-- Failed sign-ins are counted per account and per address from the audit log.
CREATE INDEX audit_log_action_at ON audit_log (action, at);

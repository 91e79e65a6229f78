-- 0003 dashboard users: officers, managers and admins who sign in to the dashboard, and the
-- patches each officer looks after. Passwords are argon2id hashes (argon2-cffi), never text.
-- An account with no password_hash signs in only through single sign-on (OIDC, by email).

CREATE TABLE users (
    username       TEXT PRIMARY KEY
                   CHECK (length(username) BETWEEN 2 AND 64
                          AND username NOT GLOB '*[^a-z0-9._-]*'),
    display_name   TEXT NOT NULL CHECK (display_name <> ''),
    role           TEXT NOT NULL CHECK (role IN ('officer', 'manager', 'admin')),
    password_hash  TEXT CHECK (password_hash IS NULL OR password_hash GLOB '$argon2*'),
    email          TEXT UNIQUE CHECK (email IS NULL OR email GLOB '?*@?*'),
    created_at     TEXT NOT NULL CHECK (created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*'),
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) WITHOUT ROWID;

CREATE TABLE user_patches (
    username  TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    patch     TEXT NOT NULL CHECK (patch <> ''),
    PRIMARY KEY (username, patch)
) WITHOUT ROWID;

CREATE INDEX user_patches_patch ON user_patches (patch);

-- Accounts and authentication: access tokens, application-specific passwords, TOTP, the auth log.
-- Same tables on SQLite and PostgreSQL (portable types only); keep the two files in step.

-- API access tokens and short-lived 2FA nonces. Only a BLAKE3 hash of the random token is kept.
CREATE TABLE access_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    -- 'token' (API access) or 'totp-nonce' (password checked, TOTP still to come)
    kind TEXT NOT NULL,
    -- for a nonce: JSON of what to do once the TOTP code is checked
    data TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

-- Application-specific passwords; the password itself is random and only its hash is kept.
CREATE TABLE asps (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of scopes: imap, pop3, smtp or *
    scopes TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created BIGINT NOT NULL,
    -- seconds; 0 = never expires. Each use moves expires to now + ttl.
    ttl BIGINT NOT NULL DEFAULT 0,
    expires BIGINT NOT NULL DEFAULT 0,
    last_use BIGINT NOT NULL DEFAULT 0,
    last_event TEXT NOT NULL DEFAULT ''
);
CREATE INDEX asps_user ON asps (user_id);
CREATE UNIQUE INDEX asps_password ON asps (user_id, password_hash);

-- TOTP second factor: a seed waiting for confirmation (enabled = 0) or in force (enabled = 1).
CREATE TABLE totp (
    user_id TEXT PRIMARY KEY,
    seed TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL
);

-- Every authentication attempt, per user, kept until `expires`.
CREATE TABLE authlog (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    protocol TEXT NOT NULL,
    scope TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    sess TEXT NOT NULL DEFAULT '',
    asp TEXT NOT NULL DEFAULT '',
    aname TEXT NOT NULL DEFAULT '',
    require2fa TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX authlog_user ON authlog (user_id, id);

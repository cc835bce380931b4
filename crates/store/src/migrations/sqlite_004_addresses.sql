-- Addresses beyond one per user: identity names, tags, metadata, wildcards, forwarded addresses
-- (no user, a list of targets), domain aliases, the address register, autoreplies and filters.
-- Keep in step with postgres_004_addresses.sql.
ALTER TABLE addresses ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- Tags as given (a JSON array) and as ",lowercased,tags," for LIKE filters.
ALTER TABLE addresses ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE addresses ADD COLUMN tags_view TEXT NOT NULL DEFAULT ',';
ALTER TABLE addresses ADD COLUMN meta_data TEXT NOT NULL DEFAULT '{}';
ALTER TABLE addresses ADD COLUMN internal_data TEXT NOT NULL DEFAULT '{}';
-- 1 for a forwarded address (user_id is then ''); its targets are a JSON array of strings.
ALTER TABLE addresses ADD COLUMN forwarded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';
ALTER TABLE addresses ADD COLUMN forwards BIGINT NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN forwarded_disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE addresses ADD COLUMN autoreply TEXT NOT NULL DEFAULT '{"status":false}';
CREATE TABLE domain_aliases (
    id TEXT PRIMARY KEY,
    alias TEXT NOT NULL,
    alias_key TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL,
    domain_key TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE TABLE address_register (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    address TEXT NOT NULL,
    normalized TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    disabled BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL,
    UNIQUE (user_id, normalized)
);
CREATE TABLE autoreplies (
    user_id TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    status BIGINT NOT NULL DEFAULT 0,
    name TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    text_body TEXT NOT NULL DEFAULT '',
    html_body TEXT NOT NULL DEFAULT '',
    -- Milliseconds since the epoch; 0 means no limit.
    start_ms BIGINT NOT NULL DEFAULT 0,
    end_ms BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL
);
CREATE TABLE filters (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    query TEXT NOT NULL,
    action TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    meta_data TEXT NOT NULL DEFAULT '{}',
    created BIGINT NOT NULL
);
CREATE INDEX filters_user ON filters (user_id);

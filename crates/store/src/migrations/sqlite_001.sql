-- Eider schema v1 (SQLite). Keep in step with postgres_001.sql: same tables, columns and meaning.
-- Portable column types only (BIGINT, TEXT, BLOB): the store reads both back ends through sqlx's Any driver.
-- Every table holding user data carries user_id so it can be distributed by user later.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    quota BIGINT NOT NULL DEFAULT 0,
    storage_used BIGINT NOT NULL DEFAULT 0,
    journal_seq BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL,
    props TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE addresses (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    address TEXT NOT NULL,
    normalized TEXT NOT NULL UNIQUE,
    main BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id);
CREATE TABLE mailboxes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    path TEXT NOT NULL,
    special_use TEXT,
    uid_validity BIGINT NOT NULL,
    uid_next BIGINT NOT NULL DEFAULT 1,
    highest_modseq BIGINT NOT NULL DEFAULT 1,
    -- Messages with UID >= recent_uid have not been seen by any session yet (\Recent, RFC 3501).
    recent_uid BIGINT NOT NULL DEFAULT 1,
    subscribed BIGINT NOT NULL DEFAULT 1,
    created BIGINT NOT NULL,
    UNIQUE (user_id, path)
);
CREATE TABLE contents (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    refcount BIGINT NOT NULL,
    size BIGINT NOT NULL,
    skeleton BLOB NOT NULL,
    segments TEXT NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
);
CREATE TABLE messages (
    user_id TEXT NOT NULL,
    mailbox_id TEXT NOT NULL,
    uid BIGINT NOT NULL,
    id TEXT NOT NULL,
    content_id TEXT NOT NULL,
    modseq BIGINT NOT NULL,
    flags BIGINT NOT NULL DEFAULT 0,
    keywords TEXT NOT NULL DEFAULT '',
    internal_date BIGINT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (user_id, mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE UNIQUE INDEX messages_id ON messages (user_id, id);
CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    stored_size BIGINT NOT NULL,
    refcount BIGINT NOT NULL DEFAULT 0,
    data BLOB
);
CREATE TABLE journal (
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    mailbox_id TEXT NOT NULL DEFAULT '',
    modseq BIGINT NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,
    uid BIGINT NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX journal_mailbox ON journal (mailbox_id, modseq);

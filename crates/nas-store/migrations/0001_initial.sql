-- Initial schema of the appliance configuration database.
-- Names compare case-insensitively everywhere (COLLATE NOCASE on the UNIQUE columns).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    nt_hash       BLOB    NOT NULL CHECK (length(nt_hash) = 16),
    password_hash TEXT    NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE shares (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    path       TEXT    NOT NULL,
    comment    TEXT    NOT NULL DEFAULT '',
    read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    guest_ok   INTEGER NOT NULL DEFAULT 0 CHECK (guest_ok IN (0, 1)),
    browseable INTEGER NOT NULL DEFAULT 1 CHECK (browseable IN (0, 1)),
    encrypt    INTEGER NOT NULL DEFAULT 0 CHECK (encrypt IN (0, 1))
);

-- Per-share user lists: kind 'valid' = may connect, kind 'write' = may write even when the
-- share is read-only. Rows vanish with their share or their user.
CREATE TABLE share_access (
    share_id INTEGER NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('valid', 'write')),
    PRIMARY KEY (share_id, user_id, kind)
);
CREATE INDEX share_access_user ON share_access (user_id);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);

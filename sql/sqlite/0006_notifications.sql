-- CineBook embedded schema, version 5: notifications (the MySQL 0007_notifications.sql).

ALTER TABLE bookings ADD COLUMN contact_email TEXT NULL CHECK (contact_email IS NULL OR length(contact_email) <= 254);
ALTER TABLE bookings ADD COLUMN contact_phone TEXT NULL CHECK (contact_phone IS NULL OR length(contact_phone) <= 32);
ALTER TABLE payment_orders ADD COLUMN contact_email TEXT NULL CHECK (contact_email IS NULL OR length(contact_email) <= 254);
ALTER TABLE payment_orders ADD COLUMN contact_phone TEXT NULL CHECK (contact_phone IS NULL OR length(contact_phone) <= 32);

CREATE TABLE IF NOT EXISTS outbox (
    seq                INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id                 TEXT    NOT NULL UNIQUE CHECK (length(id) <= 96),
    kind               TEXT    NOT NULL CHECK (length(kind) <= 32),
    code               TEXT    NOT NULL CHECK (length(code) <= 32),
    show_id            INTEGER NOT NULL,
    payload            TEXT    NOT NULL CHECK (length(payload) <= 16000),
    state              TEXT    NOT NULL DEFAULT 'pending' CHECK (length(state) <= 8),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT    NULL CHECK (last_error IS NULL OR length(last_error) <= 500),
    created_at_ms      INTEGER NOT NULL,
    sent_at_ms         INTEGER NULL
);

CREATE INDEX IF NOT EXISTS ix_outbox_state ON outbox (state, seq);

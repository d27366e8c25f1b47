-- CineBook embedded schema, version 3: online payments (the MySQL 0004_payments.sql, with
-- the same columns, keys and widths as CHECK constraints).

CREATE TABLE IF NOT EXISTS payment_orders (
    order_id          INTEGER NOT NULL PRIMARY KEY,
    terminal_id       INTEGER NOT NULL,
    role              TEXT    NOT NULL CHECK (length(role) <= 16),
    hold_id           INTEGER NOT NULL,
    show_id           INTEGER NOT NULL,
    seats             TEXT    NOT NULL CHECK (length(seats) <= 4000),
    amount_minor      INTEGER NOT NULL,
    currency          TEXT    NOT NULL CHECK (length(currency) = 3),
    gateway_order_id  TEXT    NULL UNIQUE CHECK (gateway_order_id IS NULL OR length(gateway_order_id) <= 64),
    idempotency_key   TEXT    NOT NULL CHECK (length(idempotency_key) <= 128),
    state             TEXT    NOT NULL CHECK (length(state) <= 16),
    payment_id        TEXT    NULL CHECK (payment_id IS NULL OR length(payment_id) <= 64),
    booking_code      TEXT    NULL CHECK (booking_code IS NULL OR length(booking_code) <= 32),
    reason            TEXT    NULL CHECK (reason IS NULL OR length(reason) <= 400),
    window_ends_at_ms INTEGER NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    UNIQUE (terminal_id, idempotency_key)
);

CREATE INDEX IF NOT EXISTS ix_payment_orders_state ON payment_orders (state);

CREATE TABLE IF NOT EXISTS payment_records (
    payment_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(payment_id) <= 64),
    order_id     INTEGER NOT NULL REFERENCES payment_orders (order_id),
    amount_minor INTEGER NOT NULL,
    currency     TEXT    NOT NULL CHECK (length(currency) = 3),
    status       TEXT    NOT NULL CHECK (length(status) <= 16),
    at_ms        INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_payment_records_order ON payment_records (order_id);

CREATE TABLE IF NOT EXISTS payment_refunds (
    seq               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    receipt           TEXT    NOT NULL UNIQUE CHECK (length(receipt) <= 80),
    order_id          INTEGER NOT NULL,
    payment_id        TEXT    NOT NULL CHECK (length(payment_id) <= 64),
    booking_code      TEXT    NULL CHECK (booking_code IS NULL OR length(booking_code) <= 32),
    gateway_refund_id TEXT    NULL UNIQUE CHECK (gateway_refund_id IS NULL OR length(gateway_refund_id) <= 64),
    amount_minor      INTEGER NOT NULL,
    currency          TEXT    NOT NULL CHECK (length(currency) = 3),
    state             TEXT    NOT NULL CHECK (length(state) <= 16),
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
);

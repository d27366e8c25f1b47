-- CineBook embedded schema, version 4: partial refunds (the MySQL 0006_seat_refunds.sql).

CREATE TABLE IF NOT EXISTS seat_refunds (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    code         TEXT    NOT NULL REFERENCES bookings (code) CHECK (length(code) <= 32),
    seats        TEXT    NOT NULL CHECK (length(seats) <= 4000),
    amount_minor INTEGER NOT NULL,
    currency     TEXT    NOT NULL CHECK (length(currency) = 3),
    terminal_id  INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL,
    lamport      INTEGER NOT NULL,
    node_id      INTEGER NOT NULL,
    reason       TEXT    NOT NULL CHECK (length(reason) <= 500)
);

CREATE INDEX IF NOT EXISTS idx_seat_refunds_code ON seat_refunds (code);
CREATE INDEX IF NOT EXISTS idx_seat_refunds_terminal_at ON seat_refunds (terminal_id, at_ms);

CREATE TABLE IF NOT EXISTS seat_refund_seats (
    code        TEXT    NOT NULL CHECK (length(code) <= 32),
    seat_id     INTEGER NOT NULL,
    show_id     INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    label       TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    price_minor INTEGER NOT NULL,
    refund_id   INTEGER NOT NULL REFERENCES seat_refunds (id),
    PRIMARY KEY (code, seat_id)
);

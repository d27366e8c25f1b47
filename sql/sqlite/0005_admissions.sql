-- CineBook embedded schema, version 5: admissions at the door (as mysql/0007_admissions.sql).
CREATE TABLE IF NOT EXISTS admissions (
    code        TEXT    NOT NULL PRIMARY KEY REFERENCES bookings (code),
    show_id     INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    terminal_id INTEGER NOT NULL,
    gate        TEXT    NOT NULL CHECK (length(gate) <= 64),
    offline     INTEGER NOT NULL,
    lamport     INTEGER NOT NULL,
    node_id     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_admissions_show ON admissions (show_id, at_ms);

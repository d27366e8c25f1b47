-- CineBook schema for the embedded SQLite store, version 1 (the same tables as
-- sql/mysql/0001_init.sql and sql/mysql/0002_external_ids.sql).
--
-- Applied by `SqliteStore::migrate` (embedded in the binary) inside one transaction together
-- with its `schema_migrations` row: SQLite DDL is transactional, so a migration is applied
-- completely or not at all.
--
-- Conventions: times are INTEGER milliseconds since the Unix epoch (`_ms`); money is INTEGER
-- minor units plus a 3-letter currency; enums are short lowercase names. SQLite does not
-- enforce declared widths, so every text column has a CHECK on its length in characters, the
-- same widths as the MySQL columns (`store::mysql::widths`): both stores refuse the same
-- values. Ids are INTEGER (signed 64-bit): an id above 2^63 - 1 is refused by the store.
-- Text compares byte-wise (BINARY), like the utf8mb4_bin keys of MySQL.

CREATE TABLE IF NOT EXISTS cities (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id >= 0),
    name TEXT    NOT NULL CHECK (length(name) <= 200)
);

CREATE TABLE IF NOT EXISTS theaters (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id >= 0),
    city_id INTEGER NOT NULL REFERENCES cities (id),
    name    TEXT    NOT NULL CHECK (length(name) <= 200)
);

CREATE TABLE IF NOT EXISTS screens (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id >= 0),
    theater_id INTEGER NOT NULL REFERENCES theaters (id),
    name       TEXT    NOT NULL CHECK (length(name) <= 200)
);

-- One row per seat of a screen's layout; seat_id is the index in the layout.
CREATE TABLE IF NOT EXISTS seats (
    screen_id INTEGER NOT NULL REFERENCES screens (id) ON DELETE CASCADE,
    seat_id   INTEGER NOT NULL CHECK (seat_id BETWEEN 0 AND 4294967295),
    row_name  TEXT    NOT NULL CHECK (length(row_name) <= 16),
    label     TEXT    NOT NULL CHECK (length(label) <= 32),
    category  TEXT    NOT NULL CHECK (length(category) <= 16),
    x         INTEGER NOT NULL CHECK (x BETWEEN 0 AND 65535),
    y         INTEGER NOT NULL CHECK (y BETWEEN 0 AND 65535),
    PRIMARY KEY (screen_id, seat_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS movies (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id >= 0),
    title       TEXT    NOT NULL CHECK (length(title) <= 300),
    runtime_min INTEGER NOT NULL CHECK (runtime_min BETWEEN 0 AND 65535),
    rating      TEXT    NOT NULL CHECK (length(rating) <= 16)
);

CREATE TABLE IF NOT EXISTS shows (
    id           INTEGER NOT NULL PRIMARY KEY CHECK (id >= 0),
    movie_id     INTEGER NOT NULL REFERENCES movies (id),
    screen_id    INTEGER NOT NULL REFERENCES screens (id),
    starts_at_ms INTEGER NOT NULL CHECK (starts_at_ms >= 0),
    currency     TEXT    NOT NULL CHECK (length(currency) <= 3)
);
CREATE INDEX IF NOT EXISTS idx_shows_start ON shows (starts_at_ms);

CREATE TABLE IF NOT EXISTS show_prices (
    show_id      INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    category     TEXT    NOT NULL CHECK (length(category) <= 16),
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (show_id, category)
) WITHOUT ROWID;

-- Terminals (tokens are stored only as a hex SHA-256) ---------------------------------------

CREATE TABLE IF NOT EXISTS terminals (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL CHECK (length(name) <= 200),
    role         TEXT    NOT NULL CHECK (length(role) <= 16),
    token_sha256 TEXT    NOT NULL UNIQUE CHECK (length(token_sha256) <= 64),
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER) * 1000)
);

-- Sales ------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS bookings (
    code            TEXT    NOT NULL PRIMARY KEY CHECK (length(code) <= 32),
    show_id         INTEGER NOT NULL REFERENCES shows (id),
    terminal_id     INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (length(status) <= 16),
    total_minor     INTEGER NOT NULL,
    currency        TEXT    NOT NULL CHECK (length(currency) <= 3),
    sold_at_ms      INTEGER NOT NULL,
    lamport         INTEGER NOT NULL,
    node_id         INTEGER NOT NULL,
    idempotency_key TEXT    NOT NULL CHECK (length(idempotency_key) <= 128),
    UNIQUE (terminal_id, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_bookings_show ON bookings (show_id);
CREATE INDEX IF NOT EXISTS idx_bookings_terminal_sold ON bookings (terminal_id, sold_at_ms);

-- The seats a live (confirmed or admitted) booking owns. PRIMARY KEY (show_id, seat_id) is the
-- last line against a double sale: a second owner of a seat cannot be committed.
CREATE TABLE IF NOT EXISTS booking_seats (
    show_id     INTEGER NOT NULL,
    seat_id     INTEGER NOT NULL,
    code        TEXT    NOT NULL REFERENCES bookings (code),
    position    INTEGER NOT NULL,
    label       TEXT    NOT NULL CHECK (length(label) <= 32),
    category    TEXT    NOT NULL CHECK (length(category) <= 16),
    price_minor INTEGER NOT NULL,
    PRIMARY KEY (show_id, seat_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_booking_seats_code ON booking_seats (code);

-- The seats of cancelled or refunded bookings, moved out of booking_seats so that the seats can
-- be sold again while the booking can still be listed and reprinted.
CREATE TABLE IF NOT EXISTS booking_seats_history (
    code           TEXT    NOT NULL REFERENCES bookings (code),
    seat_id        INTEGER NOT NULL,
    show_id        INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    label          TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    price_minor    INTEGER NOT NULL,
    released_at_ms INTEGER NOT NULL,
    PRIMARY KEY (code, seat_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_booking_seats_history_show ON booking_seats_history (show_id, seat_id);

CREATE TABLE IF NOT EXISTS payments (
    code         TEXT    NOT NULL PRIMARY KEY REFERENCES bookings (code),
    method       TEXT    NOT NULL CHECK (length(method) <= 16),
    amount_minor INTEGER NOT NULL,
    currency     TEXT    NOT NULL CHECK (length(currency) <= 3),
    reference    TEXT    NULL CHECK (reference IS NULL OR length(reference) <= 200)
) WITHOUT ROWID;

-- At most one refund per booking (a booking leaves `confirmed` once).
CREATE TABLE IF NOT EXISTS refunds (
    code         TEXT    NOT NULL PRIMARY KEY REFERENCES bookings (code),
    amount_minor INTEGER NOT NULL,
    currency     TEXT    NOT NULL CHECK (length(currency) <= 3),
    terminal_id  INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL,
    lamport      INTEGER NOT NULL,
    node_id      INTEGER NOT NULL,
    reason       TEXT    NOT NULL CHECK (length(reason) <= 500)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_refunds_terminal_at ON refunds (terminal_id, at_ms);

-- Audit trail: one row per sale and per cancellation, written in the same transaction, ordered
-- by (lamport, node_id) within a show.
CREATE TABLE IF NOT EXISTS audit_events (
    id      INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    show_id INTEGER NOT NULL,
    lamport INTEGER NOT NULL,
    node_id INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    code    TEXT    NULL,
    detail  TEXT    NOT NULL CHECK (length(detail) <= 2000),
    at_ms   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_audit_show_order ON audit_events (show_id, lamport, node_id);
CREATE INDEX IF NOT EXISTS idx_audit_code ON audit_events (code);

-- Import: external ids of catalog rows (see sql/mysql/0002_external_ids.sql).
CREATE TABLE IF NOT EXISTS external_ids (
    source      TEXT    NOT NULL CHECK (length(source) <= 64),
    kind        TEXT    NOT NULL CHECK (length(kind) <= 16),
    external_id TEXT    NOT NULL CHECK (length(external_id) <= 200),
    internal_id INTEGER NOT NULL,
    PRIMARY KEY (source, kind, external_id),
    UNIQUE (kind, internal_id)
) WITHOUT ROWID;

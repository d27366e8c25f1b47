-- CineBook schema for the embedded SQLite store, version 2 (sql/mysql/0003_hold_ids_and_blocked_seats.sql):
-- the hold of each sale, and durable blocked seats. Applied in one transaction with its
-- `schema_migrations` row.

-- The hold a sale confirmed; NULL for bookings written before this version.
ALTER TABLE bookings ADD COLUMN hold_id INTEGER NULL CHECK (hold_id IS NULL OR hold_id >= 0);

-- Seats taken out of sale; unblocking deletes the row.
CREATE TABLE IF NOT EXISTS blocked_seats (
    show_id INTEGER NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    seat_id INTEGER NOT NULL,
    PRIMARY KEY (show_id, seat_id)
) WITHOUT ROWID;

-- CineBook schema, version 3: the hold of each sale, and durable blocked seats.
--
-- `bookings.hold_id` is the hold a sale confirmed (NULL for bookings written before this
-- version): after a restart the node still knows which hold an idempotency key confirmed, so
-- the key reused for another hold is a conflict and not the old booking.
--
-- `blocked_seats` holds the seats taken out of sale (house seats, broken seats); unblocking
-- deletes the row. Each change also writes an `audit_events` row (kind `block` or `unblock`).
--
-- MySQL has no `ADD COLUMN IF NOT EXISTS`: when the column already exists (the migration was
-- interrupted after the ALTER) the runner treats "duplicate column name" (1060) as applied.

ALTER TABLE bookings ADD COLUMN hold_id BIGINT UNSIGNED NULL;

CREATE TABLE IF NOT EXISTS blocked_seats (
    show_id BIGINT UNSIGNED NOT NULL,
    seat_id INT UNSIGNED    NOT NULL,
    PRIMARY KEY (show_id, seat_id),
    CONSTRAINT fk_blocked_seats_show FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

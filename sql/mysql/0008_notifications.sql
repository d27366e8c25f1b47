-- CineBook schema, version 7: notifications. The customer's contact on bookings and payment
-- orders, and the transactional outbox: one row per change a customer hears about, written in
-- the same transaction as the change (docs/OPERATIONS.md, "Notifications").

ALTER TABLE bookings ADD COLUMN contact_email VARCHAR(254) NULL;
ALTER TABLE bookings ADD COLUMN contact_phone VARCHAR(32) NULL;
ALTER TABLE payment_orders ADD COLUMN contact_email VARCHAR(254) NULL;
ALTER TABLE payment_orders ADD COLUMN contact_phone VARCHAR(32) NULL;

CREATE TABLE IF NOT EXISTS outbox (
    seq                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id                 VARCHAR(96)  NOT NULL COLLATE utf8mb4_bin,
    kind               VARCHAR(32)  NOT NULL,
    code               VARCHAR(32)  NOT NULL COLLATE utf8mb4_bin,
    show_id            BIGINT UNSIGNED NOT NULL,
    payload            TEXT         NOT NULL,
    state              VARCHAR(8)   NOT NULL DEFAULT 'pending',
    attempts           INT UNSIGNED NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT UNSIGNED NOT NULL DEFAULT 0,
    last_error         VARCHAR(500) NULL,
    created_at_ms      BIGINT UNSIGNED NOT NULL,
    sent_at_ms         BIGINT UNSIGNED NULL,
    UNIQUE KEY uq_outbox_id (id),
    KEY ix_outbox_state (state, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- CineBook schema, version 5: partial refunds (some seats of a booking; issue 14).
--
-- One row per partial refund. Its seats move from `booking_seats` to `booking_seats_history`
-- in the same transaction and the booking's `total_minor` drops by `amount_minor`, so a seat
-- refunded once is no longer the booking's and cannot be refunded again. The shift report adds
-- these rows to `refunds` (a full refund after partial ones refunds only what is left).
CREATE TABLE IF NOT EXISTS seat_refunds (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    code         VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    seats        VARCHAR(4000)   NOT NULL,
    amount_minor BIGINT          NOT NULL,
    currency     CHAR(3)         NOT NULL,
    terminal_id  BIGINT UNSIGNED NOT NULL,
    at_ms        BIGINT UNSIGNED NOT NULL,
    lamport      BIGINT UNSIGNED NOT NULL,
    node_id      INT UNSIGNED    NOT NULL,
    reason       VARCHAR(500)    NOT NULL,
    PRIMARY KEY (id),
    KEY idx_seat_refunds_code (code),
    KEY idx_seat_refunds_terminal_at (terminal_id, at_ms),
    CONSTRAINT fk_seat_refunds_booking FOREIGN KEY (code) REFERENCES bookings (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

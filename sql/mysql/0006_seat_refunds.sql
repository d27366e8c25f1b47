-- CineBook schema, version 6: partial refunds (some seats of a booking; issue 14).
--
-- `seat_refunds`: one row per partial refund. In the same transaction its seats move from
-- `booking_seats` to `seat_refund_seats` (not to `booking_seats_history`: they are no longer
-- the booking's, whatever becomes of it) and the booking's `total_minor` drops by
-- `amount_minor`, so a seat refunded once cannot be refunded again. The shift report adds these
-- rows to `refunds` (a full refund after partial ones refunds only what is left) and counts
-- `seat_refund_seats` among the seats sold.
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

CREATE TABLE IF NOT EXISTS seat_refund_seats (
    code        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    seat_id     INT UNSIGNED      NOT NULL,
    show_id     BIGINT UNSIGNED   NOT NULL,
    position    INT UNSIGNED      NOT NULL,
    label       VARCHAR(32)       NOT NULL,
    category    VARCHAR(16)       NOT NULL,
    price_minor BIGINT            NOT NULL,
    refund_id   BIGINT UNSIGNED   NOT NULL,
    PRIMARY KEY (code, seat_id),
    CONSTRAINT fk_seat_refund_seats_refund FOREIGN KEY (refund_id) REFERENCES seat_refunds (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

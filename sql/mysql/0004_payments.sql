-- CineBook schema, version 4: online payments through a gateway (docs/PAYMENTS.md).
--
-- `payment_orders`: one row per order, written before the gateway hears of it. `order_id` is
-- the node's id (also the gateway receipt `cb-order-<id>`); (terminal_id, idempotency_key) is
-- unique, so a retried CreatePaymentOrder finds its order; `gateway_order_id` is unique, so a
-- webhook names at most one order. `state` moves only by conditional UPDATEs
-- (`... WHERE state IN (...)`). `seats` is the held seat ids, comma-separated, so the hold can be
-- rebuilt after a restart.
-- `payment_records`: every payment the gateway reported for an order, by the gateway's id.
-- `payment_refunds`: every refund through the gateway, by our receipt (written before the
-- gateway is asked); `gateway_refund_id` is unique.

CREATE TABLE IF NOT EXISTS payment_orders (
    order_id          BIGINT UNSIGNED NOT NULL,
    terminal_id       BIGINT UNSIGNED NOT NULL,
    role              VARCHAR(16)     NOT NULL,
    hold_id           BIGINT UNSIGNED NOT NULL,
    show_id           BIGINT UNSIGNED NOT NULL,
    seats             VARCHAR(4000)   NOT NULL,
    amount_minor      BIGINT          NOT NULL,
    currency          CHAR(3)         NOT NULL,
    gateway_order_id  VARCHAR(64)     NULL,
    idempotency_key   VARCHAR(128)    NOT NULL,
    state             VARCHAR(16)     NOT NULL,
    payment_id        VARCHAR(64)     NULL,
    booking_code      VARCHAR(32)     NULL,
    reason            VARCHAR(400)    NULL,
    window_ends_at_ms BIGINT UNSIGNED NOT NULL,
    created_at_ms     BIGINT UNSIGNED NOT NULL,
    updated_at_ms     BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (order_id),
    UNIQUE KEY uq_payment_orders_key (terminal_id, idempotency_key),
    UNIQUE KEY uq_payment_orders_gateway (gateway_order_id),
    KEY ix_payment_orders_state (state),
    KEY ix_payment_orders_booking (booking_code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payment_records (
    payment_id   VARCHAR(64)     NOT NULL,
    order_id     BIGINT UNSIGNED NOT NULL,
    amount_minor BIGINT          NOT NULL,
    currency     CHAR(3)         NOT NULL,
    status       VARCHAR(16)     NOT NULL,
    at_ms        BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (payment_id),
    KEY ix_payment_records_order (order_id),
    CONSTRAINT fk_payment_records_order FOREIGN KEY (order_id) REFERENCES payment_orders (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payment_refunds (
    receipt           VARCHAR(80)     NOT NULL,
    seq               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id          BIGINT UNSIGNED NOT NULL,
    payment_id        VARCHAR(64)     NOT NULL,
    booking_code      VARCHAR(32)     NULL,
    gateway_refund_id VARCHAR(64)     NULL,
    amount_minor      BIGINT          NOT NULL,
    currency          CHAR(3)         NOT NULL,
    state             VARCHAR(16)     NOT NULL,
    created_at_ms     BIGINT UNSIGNED NOT NULL,
    updated_at_ms     BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (receipt),
    UNIQUE KEY uq_payment_refunds_seq (seq),
    UNIQUE KEY uq_payment_refunds_gateway (gateway_refund_id),
    KEY ix_payment_refunds_payment (payment_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

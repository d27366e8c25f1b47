-- CineBook schema, version 1.
--
-- Applied by `MysqlStore::migrate` (embedded in the binary). Every statement is idempotent
-- (CREATE TABLE IF NOT EXISTS, INSERT IGNORE) because MySQL DDL commits implicitly: a migration
-- interrupted half-way is simply applied again. Statements are separated by a semicolon at the
-- end of a line; no semicolon may appear inside a statement.
--
-- Conventions: InnoDB, utf8mb4; times are BIGINT UNSIGNED milliseconds since the Unix epoch
-- (`_ms`); money is BIGINT minor units plus a CHAR(3) ISO 4217 currency; enums are short
-- lowercase strings (the protocol's `name()`); codes, keys and hashes compare byte-wise
-- (utf8mb4_bin) so that `abc` and `ABC` are different keys.

-- Catalog ----------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS cities (
    id   BIGINT UNSIGNED NOT NULL,
    name VARCHAR(200)    NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS theaters (
    id      BIGINT UNSIGNED NOT NULL,
    city_id BIGINT UNSIGNED NOT NULL,
    name    VARCHAR(200)    NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_theaters_city FOREIGN KEY (city_id) REFERENCES cities (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS screens (
    id         BIGINT UNSIGNED NOT NULL,
    theater_id BIGINT UNSIGNED NOT NULL,
    name       VARCHAR(200)    NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_screens_theater FOREIGN KEY (theater_id) REFERENCES theaters (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per seat of a screen's layout; seat_id is the index in the layout.
CREATE TABLE IF NOT EXISTS seats (
    screen_id BIGINT UNSIGNED   NOT NULL,
    seat_id   INT UNSIGNED      NOT NULL,
    row_name  VARCHAR(16)       NOT NULL,
    label     VARCHAR(32)       NOT NULL,
    category  VARCHAR(16)       NOT NULL,
    x         SMALLINT UNSIGNED NOT NULL,
    y         SMALLINT UNSIGNED NOT NULL,
    PRIMARY KEY (screen_id, seat_id),
    CONSTRAINT fk_seats_screen FOREIGN KEY (screen_id) REFERENCES screens (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS movies (
    id          BIGINT UNSIGNED   NOT NULL,
    title       VARCHAR(300)      NOT NULL,
    runtime_min SMALLINT UNSIGNED NOT NULL,
    rating      VARCHAR(16)       NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS shows (
    id           BIGINT UNSIGNED NOT NULL,
    movie_id     BIGINT UNSIGNED NOT NULL,
    screen_id    BIGINT UNSIGNED NOT NULL,
    starts_at_ms BIGINT UNSIGNED NOT NULL,
    currency     CHAR(3)         NOT NULL,
    PRIMARY KEY (id),
    KEY idx_shows_start (starts_at_ms),
    CONSTRAINT fk_shows_movie FOREIGN KEY (movie_id) REFERENCES movies (id),
    CONSTRAINT fk_shows_screen FOREIGN KEY (screen_id) REFERENCES screens (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS show_prices (
    show_id      BIGINT UNSIGNED NOT NULL,
    category     VARCHAR(16)     NOT NULL,
    amount_minor BIGINT          NOT NULL,
    PRIMARY KEY (show_id, category),
    CONSTRAINT fk_show_prices_show FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Terminals (tokens are stored only as a hex SHA-256) ---------------------------------------

CREATE TABLE IF NOT EXISTS terminals (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name         VARCHAR(200)    NOT NULL,
    role         VARCHAR(16)     NOT NULL,
    token_sha256 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    revoked      BOOLEAN         NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY uq_terminals_token (token_sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Sales ------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS bookings (
    code            VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    show_id         BIGINT UNSIGNED NOT NULL,
    terminal_id     BIGINT UNSIGNED NOT NULL,
    status          VARCHAR(16)     NOT NULL,
    total_minor     BIGINT          NOT NULL,
    currency        CHAR(3)         NOT NULL,
    sold_at_ms      BIGINT UNSIGNED NOT NULL,
    lamport         BIGINT UNSIGNED NOT NULL,
    node_id         INT UNSIGNED    NOT NULL,
    idempotency_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (code),
    UNIQUE KEY uq_bookings_idempotency (terminal_id, idempotency_key),
    KEY idx_bookings_show (show_id),
    KEY idx_bookings_terminal_sold (terminal_id, sold_at_ms),
    CONSTRAINT fk_bookings_show FOREIGN KEY (show_id) REFERENCES shows (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The seats a live (confirmed or admitted) booking owns. PRIMARY KEY (show_id, seat_id) is the
-- last line against a double sale: a second owner of a seat cannot be committed.
CREATE TABLE IF NOT EXISTS booking_seats (
    show_id     BIGINT UNSIGNED   NOT NULL,
    seat_id     INT UNSIGNED      NOT NULL,
    code        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    position    INT UNSIGNED      NOT NULL,
    label       VARCHAR(32)       NOT NULL,
    category    VARCHAR(16)       NOT NULL,
    price_minor BIGINT            NOT NULL,
    PRIMARY KEY (show_id, seat_id),
    KEY idx_booking_seats_code (code),
    CONSTRAINT fk_booking_seats_booking FOREIGN KEY (code) REFERENCES bookings (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The seats of cancelled or refunded bookings, moved out of booking_seats so that the seats can
-- be sold again while the booking can still be listed and reprinted.
CREATE TABLE IF NOT EXISTS booking_seats_history (
    code        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    seat_id     INT UNSIGNED      NOT NULL,
    show_id     BIGINT UNSIGNED   NOT NULL,
    position    INT UNSIGNED      NOT NULL,
    label       VARCHAR(32)       NOT NULL,
    category    VARCHAR(16)       NOT NULL,
    price_minor BIGINT            NOT NULL,
    released_at_ms BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (code, seat_id),
    KEY idx_booking_seats_history_show (show_id, seat_id),
    CONSTRAINT fk_booking_seats_history_booking FOREIGN KEY (code) REFERENCES bookings (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payments (
    code         VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    method       VARCHAR(16)     NOT NULL,
    amount_minor BIGINT          NOT NULL,
    currency     CHAR(3)         NOT NULL,
    reference    VARCHAR(200)    NULL,
    PRIMARY KEY (code),
    CONSTRAINT fk_payments_booking FOREIGN KEY (code) REFERENCES bookings (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- At most one refund per booking (a booking leaves `confirmed` once).
CREATE TABLE IF NOT EXISTS refunds (
    code         VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    amount_minor BIGINT          NOT NULL,
    currency     CHAR(3)         NOT NULL,
    terminal_id  BIGINT UNSIGNED NOT NULL,
    at_ms        BIGINT UNSIGNED NOT NULL,
    lamport      BIGINT UNSIGNED NOT NULL,
    node_id      INT UNSIGNED    NOT NULL,
    reason       VARCHAR(500)    NOT NULL,
    PRIMARY KEY (code),
    KEY idx_refunds_terminal_at (terminal_id, at_ms),
    CONSTRAINT fk_refunds_booking FOREIGN KEY (code) REFERENCES bookings (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Audit trail: one row per sale and per cancellation, written in the same transaction, ordered
-- by (lamport, node_id) within a show.
CREATE TABLE IF NOT EXISTS audit_events (
    id      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    show_id BIGINT UNSIGNED NOT NULL,
    lamport BIGINT UNSIGNED NOT NULL,
    node_id INT UNSIGNED    NOT NULL,
    kind    VARCHAR(32)     NOT NULL,
    code    VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    detail  VARCHAR(2000)   NOT NULL,
    at_ms   BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id),
    KEY idx_audit_show_order (show_id, lamport, node_id),
    KEY idx_audit_code (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Cluster fencing: a single row. A new leader bumps `epoch` with a conditional UPDATE; a sale
-- transaction checks the epoch its leader was elected with.
CREATE TABLE IF NOT EXISTS cluster_epoch (
    id             TINYINT UNSIGNED NOT NULL,
    epoch          BIGINT UNSIGNED  NOT NULL,
    leader_node_id INT UNSIGNED     NULL,
    PRIMARY KEY (id),
    CONSTRAINT ck_cluster_epoch_single_row CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT IGNORE INTO cluster_epoch (id, epoch, leader_node_id) VALUES (1, 0, NULL);

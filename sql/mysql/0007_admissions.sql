-- CineBook schema, version 7: admissions at the door (issue 18).
--
-- One row per admitted booking: when, where (the gate's name) and by which door terminal it was
-- first admitted, and whether an offline scanner admitted it by signature and reported it
-- later. In the same transaction the booking's status becomes `admitted` (a conditional
-- UPDATE from `confirmed`), so a ticket is admitted once; a second scan reads this row to say
-- when and where. The primary key on the code is the last line against a double admission.
CREATE TABLE IF NOT EXISTS admissions (
    code        VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    show_id     BIGINT UNSIGNED NOT NULL,
    at_ms       BIGINT UNSIGNED NOT NULL,
    terminal_id BIGINT UNSIGNED NOT NULL,
    gate        VARCHAR(64)     NOT NULL,
    offline     TINYINT(1)      NOT NULL,
    lamport     BIGINT UNSIGNED NOT NULL,
    node_id     INT UNSIGNED    NOT NULL,
    PRIMARY KEY (code),
    KEY idx_admissions_show (show_id, at_ms),
    CONSTRAINT fk_admissions_booking FOREIGN KEY (code) REFERENCES bookings (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

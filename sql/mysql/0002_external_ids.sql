-- CineBook schema, version 2: external ids of imported catalog rows.
--
-- `cinebook-server import` and the scheduled sync map the ids of an upstream catalog (a movie
-- API, a file, the sample cinema) to internal ids through this table, so that importing the
-- same data again finds the same rows. `source` separates upstreams: a show is only ever
-- removed by the source that created it. An internal row belongs to at most one upstream id.

CREATE TABLE IF NOT EXISTS external_ids (
    source      VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    kind        VARCHAR(16)  NOT NULL,
    external_id VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    internal_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (source, kind, external_id),
    UNIQUE KEY uq_external_ids_internal (kind, internal_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

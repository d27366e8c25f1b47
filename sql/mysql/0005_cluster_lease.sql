-- The leader's lease in the store: a leader renews it (to the database's now + leader_lease_ms)
-- while its followers acknowledge its stream. Another node may claim the next epoch only once
-- the lease has run out, so a node that never caught up with a live leader (it was partitioned
-- from it) cannot take over from it and lose the carts it granted. A leader handing over
-- clears it. Applied again after an interruption, the ALTER's "duplicate column name" (1060)
-- counts as applied (see 0003).
ALTER TABLE cluster_epoch ADD COLUMN lease_until_ms BIGINT UNSIGNED NOT NULL DEFAULT 0;

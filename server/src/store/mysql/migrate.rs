//! Migrations: the embedded files of `sql/mysql/`, applied in order under a named lock.

use super::*;

/// Splits a migration file into statements: `--` comment lines dropped, `;` separates.
pub fn split_statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl MysqlStore {
    pub(super) async fn try_migrate(&self) -> Attempt<()> {
        let mut conn = self.conn().await?;
        // The named lock is the session's: this connection is reset when it goes back to the
        // pool (the pool resets none by default), so a lock left by an error is released.
        conn.reset_connection(true);
        conn.query_drop(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
               version INT UNSIGNED NOT NULL, \
               name VARCHAR(200) NOT NULL, \
               applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \
               PRIMARY KEY (version)\
             ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4",
        )
        .await?;
        let locked: Option<Option<i64>> = conn
            .exec_first(
                "SELECT GET_LOCK(?, ?)",
                (MIGRATION_LOCK_NAME, MIGRATION_LOCK_WAIT_SECS),
            )
            .await?;
        if locked.flatten() != Some(1) {
            return Err(StoreError::Unavailable(format!(
                "migrate: another node held the migration lock for {MIGRATION_LOCK_WAIT_SECS} s"
            ))
            .into());
        }
        let result = Self::apply_migrations(&mut conn).await;
        let released: Result<Option<Option<i64>>, _> = conn
            .exec_first("SELECT RELEASE_LOCK(?)", (MIGRATION_LOCK_NAME,))
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "could not release the migration lock");
        }
        result
    }

    pub(super) async fn apply_migrations(conn: &mut Conn) -> Attempt<()> {
        let rows: Vec<Row> = conn
            .query("SELECT version FROM schema_migrations ORDER BY version")
            .await?;
        let mut applied = Vec::with_capacity(rows.len());
        for row in rows {
            let version: u32 = Cols::new(row, "schema_migrations").take(0)?;
            applied.push(version);
        }
        let known_max = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(newest) = applied.iter().copied().max().filter(|v| *v > known_max) {
            tracing::warn!(
                newest,
                known_max,
                "the database has migrations this server does not know (a newer server ran)"
            );
        }
        for migration in MIGRATIONS {
            if applied.contains(&migration.version) {
                continue;
            }
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applying migration"
            );
            for statement in split_statements(migration.sql) {
                match conn.query_drop(statement).await {
                    Err(error) if already_applied(&error) => {
                        tracing::info!(%error, "migration statement was applied before");
                    }
                    other => other?,
                }
            }
            conn.exec_drop(
                "INSERT IGNORE INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
            .await?;
        }
        Ok(())
    }
}

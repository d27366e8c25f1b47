//! Terminals and their token hashes.

use super::*;

impl MysqlStore {
    pub(super) async fn try_add_terminal(
        &self,
        name: &str,
        role: Role,
        token_sha256: &str,
    ) -> Attempt<TerminalId> {
        let mut conn = self.conn().await?;
        conn.exec_drop(
            "INSERT INTO terminals (name, role, token_sha256) VALUES (?, ?, ?)",
            (name, role.name(), token_sha256),
        )
        .await?;
        conn.last_insert_id().ok_or_else(|| {
            StoreError::Corrupt("terminals: no auto-increment id was returned".into()).into()
        })
    }

    pub(super) fn terminal_from_row(row: Row) -> Result<TerminalRecord, StoreError> {
        let mut c = Cols::new(row, "terminals");
        Ok(TerminalRecord {
            id: c.take(0)?,
            name: c.take(1)?,
            role: c.role(2)?,
            token_sha256: c.take(3)?,
            revoked: c.take::<i64>(4)? != 0,
        })
    }

    pub(super) async fn try_terminal_by_token(
        &self,
        token_sha256: &str,
    ) -> Attempt<Option<TerminalRecord>> {
        let mut conn = self.conn().await?;
        let row: Option<Row> = conn
            .exec_first(
                "SELECT id, name, role, token_sha256, revoked FROM terminals \
                 WHERE token_sha256 = ?",
                (token_sha256,),
            )
            .await?;
        Ok(row.map(Self::terminal_from_row).transpose()?)
    }

    pub(super) async fn try_list_terminals(&self) -> Attempt<Vec<TerminalRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .query("SELECT id, name, role, token_sha256, revoked FROM terminals ORDER BY id")
            .await?;
        Ok(rows
            .into_iter()
            .map(Self::terminal_from_row)
            .collect::<Result<_, _>>()?)
    }

    pub(super) async fn try_revoke_terminal(&self, id: TerminalId) -> Attempt<()> {
        let mut conn = self.conn().await?;
        conn.exec_drop("UPDATE terminals SET revoked = TRUE WHERE id = ?", (id,))
            .await?;
        if conn.affected_rows() == 0 {
            let exists: Option<u64> = conn
                .exec_first("SELECT id FROM terminals WHERE id = ?", (id,))
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("terminal {id}")).into());
            }
        }
        Ok(())
    }
}

//! Saving an update (`upsert_pending`): the hot path, run inside the
//! merchant's request. A `BEGIN IMMEDIATE`, one indexed `SELECT`, one
//! `UPDATE` by rowid or one `INSERT`, and a `COMMIT`, all cached statements.

use super::connection::WriteTx;
use super::errors::{Failure, Res};
use super::SqliteStore;
use crate::model;
use crate::queue::RowKey;
use rusqlite::params;
use serde_json::Value;

/// The unclaimed pending row(s) of (shop, order, action): normally at most
/// one (see [`supersede`](super::supersede)); should there be more, each
/// gets the newest snapshot.
const UPSERT_FIND: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?2 AND id_shop = ?1 AND action = ?3 AND state = 'pending' AND locked_by IS NULL
  AND subject = ?4";

/// A row of (?1 shop, ?2 order, ?3 base action or ?4 its ticket stage, ?5
/// subject) that is not an unclaimed pending row: an update with a subject
/// (a credit slip) that is being sent, was sent, or is settled; saved
/// again, it is not queued a second time.
const KEYED_SETTLED: &str = "
SELECT id_shoppingfeed_order FROM shoppingfeed_order INDEXED BY shoppingfeed_order_order
WHERE id_order = ?2 AND id_shop = ?1 AND action IN (?3, ?4) AND subject = ?5
  AND NOT (state = 'pending' AND locked_by IS NULL)
ORDER BY id_shoppingfeed_order LIMIT 1";

/// A save that names no store (`?5` = 0) keeps the row's store.
const UPSERT_UPDATE: &str = "
UPDATE shoppingfeed_order SET payload = ?2, update_at = ?3, date_upd = ?4,
    store_id = CASE WHEN ?5 = 0 THEN store_id ELSE ?5 END
WHERE id_shoppingfeed_order = ?1";

const UPSERT_INSERT: &str = "
INSERT INTO shoppingfeed_order
    (id_order, id_shop, action, state, payload, attempts, failures, update_at, date_add, date_upd,
     store_id, subject)
VALUES (?2, ?1, ?3, 'pending', ?4, 0, 0, ?5, ?6, ?6, ?7, ?8)";

impl SqliteStore {
    /// [`QueueStore::upsert_pending`](crate::queue::QueueStore::upsert_pending).
    pub(super) fn save(
        &self,
        key: &RowKey<'_>,
        payload: &Value,
        due_at: i64,
        now: i64,
    ) -> Res<i64> {
        let RowKey {
            store_id,
            id_shop,
            id_order,
            action,
            subject,
        } = *key;
        let text = serde_json::to_string(payload)
            .map_err(|e| Failure::Data(format!("cannot encode the order snapshot: {e}")))?;
        let tx = WriteTx::begin(&self.conn)?;
        if subject != 0 {
            let check = model::check_action(action);
            let mut stmt = self.conn.prepare_cached(KEYED_SETTLED)?;
            let mut rows = stmt.query(params![id_shop, id_order, action, check, subject])?;
            if let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                drop(rows);
                drop(stmt);
                tx.commit()?;
                return Ok(id);
            }
        }
        // A SELECT then an UPDATE by rowid rather than one UPDATE ...
        // RETURNING: RETURNING goes through a temporary b-tree whose page
        // cache is allocated and freed at every call, which costs more than
        // the second statement.
        let mut found: Option<i64> = None;
        let mut more: Vec<i64> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(UPSERT_FIND)?;
            let mut rows = stmt.query(params![id_shop, id_order, action, subject])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                match found {
                    None => found = Some(id),
                    Some(prev) => {
                        more.push(prev.min(id));
                        found = Some(prev.max(id));
                    }
                }
            }
        }
        let id = match found {
            Some(id) => {
                let mut stmt = self.conn.prepare_cached(UPSERT_UPDATE)?;
                for row in more.iter().copied().chain([id]) {
                    stmt.execute(params![row, text, due_at, now, store_id])?;
                }
                id
            }
            None => {
                self.conn.prepare_cached(UPSERT_INSERT)?.execute(params![
                    id_shop, id_order, action, text, due_at, now, store_id, subject
                ])?;
                self.conn.last_insert_rowid()
            }
        };
        tx.commit()?;
        Ok(id)
    }
}

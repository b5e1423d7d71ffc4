//! Decoding what MySQL returns into [`Row`]s, and the SQL of each statement
//! with the table's name filled in (the prefix is only known at open).

use super::errors::{Failure, Res};
use crate::model::{Operation, Row, State};
use mysql::Row as MyRow;
use serde_json::Value;

/// The columns of a [`Row`], in the order [`row_from`] reads them.
pub(super) const ROW_COLUMNS: &str = "id_shoppingfeed_order_sync_queue, id_order, id_shop, \
    action, state, operation, payload, batch_id, ticket_id, attempts, failures, last_error, \
    update_at, date_add, date_upd, store_id, subject";

pub(super) fn parse_state(id: i64, text: &str) -> Res<State> {
    State::parse(text).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        Failure::Data(format!("row {id} has an unknown state '{shown}'"))
    })
}

pub(super) fn take<T: mysql::prelude::FromValue>(row: &mut MyRow, i: usize) -> Res<T> {
    match row.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(Failure::Data(format!("column {i} cannot be read: {e}"))),
        None => Err(Failure::Data(format!("column {i} is missing"))),
    }
}

/// Maps a row selected with [`ROW_COLUMNS`]. A payload that is not valid
/// JSON reads as `null` (the engine then rejects that row alone), an
/// unknown operation as `None`; an unknown state is an error.
pub(super) fn row_from(mut r: MyRow) -> Res<Row> {
    let id: i64 = take(&mut r, 0)?;
    let state_text: String = take(&mut r, 4)?;
    let state = parse_state(id, &state_text)?;
    let operation: Option<String> = take(&mut r, 5)?;
    let payload: Vec<u8> = take(&mut r, 6)?;
    Ok(Row {
        id,
        id_order: take(&mut r, 1)?,
        id_shop: take(&mut r, 2)?,
        action: take(&mut r, 3)?,
        state,
        operation: operation.as_deref().and_then(Operation::parse),
        payload: serde_json::from_slice(&payload).unwrap_or(Value::Null),
        batch_id: take(&mut r, 7)?,
        ticket_id: take(&mut r, 8)?,
        attempts: take(&mut r, 9)?,
        failures: take(&mut r, 10)?,
        last_error: take(&mut r, 11)?,
        update_at: take(&mut r, 12)?,
        date_add: take(&mut r, 13)?,
        date_upd: take(&mut r, 14)?,
        store_id: take(&mut r, 15)?,
        subject: take(&mut r, 16)?,
    })
}

pub(super) fn rows_from(rows: Vec<MyRow>) -> Res<Vec<Row>> {
    rows.into_iter().map(row_from).collect()
}

/// An id list written into the SQL text: integers only, so nothing a
/// caller sends can change the statement, and the server need not prepare
/// one statement per list length.
pub(super) fn id_list(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}

/// A time of the caller's clock moved to the server's: the same distance
/// from the server's `now` as from the caller's.
pub(super) fn on_server(time: i64, caller_now: i64, server_now: i64) -> i64 {
    server_now.saturating_add(time.saturating_sub(caller_now))
}

/// A string written into SQL text as a hex literal (`_utf8mb4 X'...'`): no
/// quoting rule of the server's `sql_mode` applies to it, so no byte of the
/// text can end the literal.
pub(super) fn text_literal(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if text.is_empty() {
        return "''".to_string();
    }
    let mut out = String::with_capacity(text.len() * 2 + 12);
    out.push_str("_utf8mb4 X'");
    for b in text.bytes() {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out.push('\'');
    out
}

/// [`text_literal`], or `NULL`.
pub(super) fn opt_text_literal(text: Option<&str>) -> String {
    text.map_or_else(|| "NULL".to_string(), text_literal)
}

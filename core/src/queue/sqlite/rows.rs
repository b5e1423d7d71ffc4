//! Decoding what SQLite returns into [`Row`]s and states, and encoding id
//! lists (passed as one JSON array to `json_each`, so that a statement
//! takes any number of ids and stays cached).

use super::errors::{Failure, Res};
use crate::model::{Operation, Row, State};
use rusqlite::types::ValueRef;
use serde_json::Value;

/// The columns of a [`Row`], in the order [`row_from`] reads them.
macro_rules! row_columns {
    () => {
        "id_shoppingfeed_order, id_order, id_shop, action, state, operation, payload, \
         batch_id, ticket_id, attempts, failures, last_error, update_at, date_add, date_upd, \
         store_id, subject"
    };
}
pub(super) use row_columns;

pub(super) fn parse_state(id: i64, text: &str) -> Res<State> {
    State::parse(text).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        Failure::Data(format!("row {id} has an unknown state '{shown}'"))
    })
}

pub(super) fn text_of(v: ValueRef<'_>) -> Option<&str> {
    match v {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    }
}

/// Maps a row selected with [`row_columns!`]. A payload that is not valid
/// JSON reads as `null` (the engine then rejects that row alone), an unknown
/// operation as `None`; an unknown state is an error.
pub(super) fn row_from(r: &rusqlite::Row<'_>) -> Res<Row> {
    let id: i64 = r.get(0)?;
    let state_text = text_of(r.get_ref(4)?).unwrap_or("");
    let state = parse_state(id, state_text)?;
    let operation = text_of(r.get_ref(5)?).and_then(Operation::parse);
    let payload = text_of(r.get_ref(6)?)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    Ok(Row {
        id,
        id_order: r.get(1)?,
        id_shop: r.get(2)?,
        action: r.get(3)?,
        state,
        operation,
        payload,
        batch_id: r.get(7)?,
        ticket_id: r.get(8)?,
        attempts: r.get(9)?,
        failures: r.get(10)?,
        last_error: r.get(11)?,
        update_at: r.get(12)?,
        date_add: r.get(13)?,
        date_upd: r.get(14)?,
        store_id: r.get(15)?,
        subject: r.get(16)?,
    })
}

pub(super) fn collect_rows(mut rows: rusqlite::Rows<'_>) -> Res<Vec<Row>> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(row_from(r)?);
    }
    Ok(out)
}

pub(super) fn json_ids(ids: &[i64]) -> Res<String> {
    serde_json::to_string(ids).map_err(|e| Failure::Data(format!("cannot encode ids: {e}")))
}

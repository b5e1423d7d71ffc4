//! The HTTP requests of a `sendBatch`: one operation, up to
//! [`MAX_ORDERS_PER_REQUEST`] orders each (each order once), built from the
//! prepared rows.

use super::bounded;
use crate::api::MAX_ORDERS_PER_REQUEST;
use crate::fasthash::HashSet;
use crate::invoice;
use crate::model::{self, Identifier, Operation, Row};
use crate::queue::Change;
use crate::retry::{Attempted, SentOrder};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// One order (one row) on its way to the API.
#[derive(Debug, Clone)]
pub(super) struct OrderEntry {
    pub(super) id: i64,
    attempts: i64,
    /// The operation the row records (None when the caller built the
    /// operations without `prepare`).
    pub(super) recorded: Option<Operation>,
    ident: Identifier,
    /// The snapshot's `reference` / `marketplace`, to match `ignored` reports.
    reference: Option<String>,
    channel: Option<String>,
    /// The order's element of the request body.
    pub(super) element: Value,
    /// (shop, PrestaShop order): a request names each order once.
    order: (i64, i64),
    /// `upload-documents`: the row's files, their bytes, and its
    /// `documents` as stored (base64, decoded when the request is sent).
    files: usize,
    bytes: usize,
    pub(super) documents: Option<Value>,
}

/// One operation request: an HTTP POST of up to 100 orders.
#[derive(Debug, Clone)]
pub(super) struct OrderRequest {
    pub(super) op: Operation,
    pub(super) orders: Vec<OrderEntry>,
}

/// The requests of the given operations, in operation order, and the
/// changes of the rows whose snapshot gives no element (failed at once).
/// `take` sees each row first and refuses those already taken.
///
/// A request names each order once: tickets are matched to rows by batch
/// and order, so a second row of one order (a second credit slip) goes to
/// a later request, with its own batch id. `upload-documents` requests
/// also stop at [`invoice::MAX_FILES_PER_REQUEST`] files and
/// [`invoice::MAX_BYTES_PER_REQUEST`] bytes (a row always fits alone).
pub(super) fn build(
    operations: &BTreeMap<Operation, Vec<Row>>,
    mut take: impl FnMut(i64) -> bool,
) -> (VecDeque<OrderRequest>, Vec<(i64, Change)>) {
    let mut requests = VecDeque::new();
    let mut bad = Vec::new();
    for (op, rows) in operations {
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            if !take(row.id) {
                continue;
            }
            match entry(*op, row) {
                Ok(entry) => entries.push(entry),
                Err(e) => bad.push((
                    row.id,
                    Change::Failed {
                        message: bounded(e.message()),
                    },
                )),
            }
        }
        // Each request filled in turn, the entries moved into it: building
        // is linear in the number of rows, however many are claimed.
        while !entries.is_empty() {
            let mut later = Vec::new();
            let mut filling = Filling::new(*op);
            for entry in entries {
                if filling.names(&entry) {
                    later.push(entry);
                    continue;
                }
                if !filling.fits(&entry) {
                    requests.push_back(filling.take());
                }
                filling.push(entry);
            }
            if !filling.orders.is_empty() {
                requests.push_back(filling.take());
            }
            entries = later;
        }
    }
    (requests, bad)
}

/// The request being filled.
struct Filling {
    op: Operation,
    orders: Vec<OrderEntry>,
    named: HashSet<(i64, i64)>,
    files: usize,
    bytes: usize,
}

impl Filling {
    fn new(op: Operation) -> Filling {
        Filling {
            op,
            orders: Vec::new(),
            named: HashSet::default(),
            files: 0,
            bytes: 0,
        }
    }

    fn names(&self, entry: &OrderEntry) -> bool {
        self.named.contains(&entry.order)
    }

    fn fits(&self, entry: &OrderEntry) -> bool {
        if self.orders.is_empty() {
            return true;
        }
        self.orders.len() < MAX_ORDERS_PER_REQUEST
            && self.files + entry.files <= invoice::MAX_FILES_PER_REQUEST
            && self.bytes + entry.bytes <= invoice::MAX_BYTES_PER_REQUEST
    }

    fn push(&mut self, entry: OrderEntry) {
        self.named.insert(entry.order);
        self.files += entry.files;
        self.bytes += entry.bytes;
        self.orders.push(entry);
    }

    fn take(&mut self) -> OrderRequest {
        self.named.clear();
        self.files = 0;
        self.bytes = 0;
        OrderRequest {
            op: self.op,
            orders: std::mem::take(&mut self.orders),
        }
    }
}

fn entry(op: Operation, row: &Row) -> crate::Result<OrderEntry> {
    let ident = model::identifier(&row.payload)?;
    let element = model::element(op, &row.payload)?;
    let (files, bytes, documents) = if op == Operation::UploadDocuments {
        (
            invoice::file_count(&row.payload),
            invoice::wire_bytes(&row.payload),
            row.payload.get("documents").cloned(),
        )
    } else {
        (0, 0, None)
    };
    Ok(OrderEntry {
        id: row.id,
        order: (row.id_shop, row.id_order),
        attempts: row.attempts,
        recorded: row.operation,
        ident,
        reference: str_field(&row.payload, "reference"),
        channel: str_field(&row.payload, "marketplace"),
        element,
        files,
        bytes,
        documents,
    })
}

impl OrderEntry {
    /// The order as an API message names it: its internal id, or its
    /// reference.
    pub(super) fn ident_text(&self) -> String {
        match &self.ident {
            Identifier::Internal(id) => id.to_string(),
            Identifier::Reference { reference, .. } => reference.clone(),
        }
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Attempted for OrderEntry {
    fn id(&self) -> i64 {
        self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
}

impl SentOrder for OrderEntry {
    fn named_in(&self, detail: &str) -> bool {
        self.ident.named_in(detail)
    }

    /// By internal id, or by reference (and channel, when both sides give
    /// one).
    fn ignored_in(&self, rep: &Value) -> bool {
        if let (Some(id), Identifier::Internal(mine)) =
            (rep.get("id").and_then(model::positive_id), &self.ident)
        {
            if id == *mine {
                return true;
            }
        }
        let Some(reference) = rep.get("reference").and_then(Value::as_str) else {
            return false;
        };
        if self.reference.as_deref() != Some(reference) || reference.is_empty() {
            return false;
        }
        model::same_channel(
            rep.get("channelName").and_then(Value::as_str),
            self.channel.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;
    use serde_json::json;

    fn row(id: i64, payload: Value) -> Row {
        Row::for_test(id, "SYNC_STATUS", State::Pending, payload)
    }

    #[test]
    fn requests_of_at_most_100_in_row_order() {
        // 100,000 rows claimed at once: building used to be quadratic.
        let n = 100_000;
        let rows: Vec<Row> = (1..=n)
            .map(|id| {
                row(
                    id,
                    json!({"id_internal_shoppingfeed": id, "id_order_state": 4}),
                )
            })
            .collect();
        let mut ops = BTreeMap::new();
        ops.insert(Operation::Ship, rows);
        let started = std::time::Instant::now();
        let (requests, bad) = build(&ops, |_| true);
        // Linear: well under a second in a release build (quadratic, it
        // was 5.5 s); debug builds are too slow to say.
        if !cfg!(debug_assertions) {
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
        }
        assert!(bad.is_empty());
        assert_eq!(requests.len(), 1_000);
        let ids: Vec<i64> = requests
            .iter()
            .inspect(|r| assert_eq!(r.orders.len(), MAX_ORDERS_PER_REQUEST))
            .flat_map(|r| r.orders.iter().map(|o| o.id))
            .collect();
        assert_eq!(ids, (1..=n).collect::<Vec<_>>());
    }

    #[test]
    fn bad_and_repeated_rows_leave_the_requests() {
        let mut ops = BTreeMap::new();
        ops.insert(
            Operation::Ship,
            (1..=150)
                .map(|id| row(id, json!({"id_internal_shoppingfeed": id})))
                .chain([row(151, json!({"reference": "no marketplace"}))])
                .collect(),
        );
        ops.insert(
            Operation::Cancel,
            vec![
                row(7, json!({"id_internal_shoppingfeed": 7})),
                row(200, json!({"id_internal_shoppingfeed": 200})),
            ],
        );
        let mut seen = std::collections::HashSet::new();
        let (requests, bad) = build(&ops, |id| seen.insert(id));
        let shape: Vec<(Operation, usize)> =
            requests.iter().map(|r| (r.op, r.orders.len())).collect();
        // Row 7 is taken once (by ship, the first operation).
        assert_eq!(
            shape,
            [
                (Operation::Ship, 100),
                (Operation::Ship, 50),
                (Operation::Cancel, 1)
            ]
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 151);
        assert!(matches!(bad[0].1, Change::Failed { .. }));
    }
}

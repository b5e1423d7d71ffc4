//! What the queue holds: rows, their states, the operations sent to the API,
//! action names, and the checks an order snapshot must pass.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

pub const ACTION_SYNC_STATUS: &str = "SYNC_STATUS";
pub const ACTION_CHECK_TICKET_SYNC_STATUS: &str = "CHECK_TICKET_SYNC_STATUS";
/// Partial refunds: one row per credit slip (see [`subject_of`]).
pub const ACTION_SYNC_REFUND: &str = "SYNC_REFUND";
/// Invoice PDFs, uploaded with `upload-documents`.
pub const ACTION_SYNC_INVOICE: &str = "SYNC_INVOICE";
/// Prefix of the ticket-checking stage of an action (`SYNC_STATUS` ->
/// `CHECK_TICKET_SYNC_STATUS`).
pub const CHECK_TICKET_PREFIX: &str = "CHECK_TICKET_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Waiting to be sent (maybe not yet due).
    Pending,
    /// Accepted by the API, ticket not final yet.
    Sent,
    /// Ticket succeeded, was canceled by the API, or nothing had to be sent.
    Done,
    /// Gave up: final failure, kept for the merchant.
    Failed,
}

impl State {
    pub const ALL: [State; 4] = [State::Pending, State::Sent, State::Done, State::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The Shopping Feed order operations this extension sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Ship,
    Cancel,
    Refund,
    Deliver,
    /// `upload-documents` (multipart: the invoices' PDFs).
    UploadDocuments,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::Ship,
        Operation::Cancel,
        Operation::Refund,
        Operation::Deliver,
        Operation::UploadDocuments,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Ship => "ship",
            Operation::Cancel => "cancel",
            Operation::Refund => "refund",
            Operation::Deliver => "deliver",
            Operation::UploadDocuments => "upload-documents",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

/// One row of the `shoppingfeed_order` queue. Dates are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: i64,
    pub id_order: i64,
    pub id_shop: i64,
    pub action: String,
    pub state: State,
    pub operation: Option<Operation>,
    /// The order snapshot, a JSON object, unknown keys kept as given.
    pub payload: Value,
    pub batch_id: Option<String>,
    pub ticket_id: Option<String>,
    /// Tries that did not succeed, whatever the cause (drives the delay).
    pub attempts: i64,
    /// Order-specific failures only (drives `STATE_FAILED`).
    pub failures: i64,
    pub last_error: Option<String>,
    /// Due time.
    pub update_at: i64,
    pub date_add: i64,
    pub date_upd: i64,
    /// The Shopping Feed store the update belongs to (the store of the
    /// token its order was imported with), 0 when the saver did not say: a
    /// claim for one store takes only its rows and untagged ones.
    pub store_id: i64,
    /// What the update is about within its order and action: the credit
    /// slip's id for `SYNC_REFUND` (one row per slip), 0 otherwise (one row
    /// per order and action, latest wins). See [`subject_of`].
    pub subject: i64,
}

/// Checks an action name: upper-case letters, digits and `_`, 1 to 64 chars.
pub fn validate_action(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "order_action must be 1 to 64 upper-case letters, digits or '_', got {}",
            crate::text::excerpt(name)
        )))
    }
}

/// The action a row goes back to when it must be sent again
/// (`CHECK_TICKET_SYNC_STATUS` -> `SYNC_STATUS`).
pub fn base_action(action: &str) -> &str {
    action.strip_prefix(CHECK_TICKET_PREFIX).unwrap_or(action)
}

/// The ticket-checking stage of an action (`SYNC_STATUS` -> `CHECK_TICKET_SYNC_STATUS`).
pub fn check_action(action: &str) -> String {
    if action.starts_with(CHECK_TICKET_PREFIX) {
        action.to_string()
    } else {
        format!("{CHECK_TICKET_PREFIX}{action}")
    }
}

/// Parses a positive id given as a JSON int or a decimal string ("12").
pub fn positive_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().filter(|i| *i > 0),
        Value::String(s) => parse_decimal(s).filter(|i| *i > 0),
        _ => None,
    }
}

fn parse_decimal(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// How a snapshot names its order on Shopping Feed.
#[derive(Debug, Clone, PartialEq)]
pub enum Identifier {
    Internal(i64),
    Reference { reference: String, channel: String },
}

impl Identifier {
    /// The identifier part of an API element.
    pub fn to_element(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            Identifier::Internal(id) => {
                m.insert("id".into(), Value::from(*id));
            }
            Identifier::Reference { reference, channel } => {
                m.insert("reference".into(), Value::from(reference.as_str()));
                m.insert("channelName".into(), Value::from(channel.as_str()));
            }
        }
        m
    }

    /// True when `text` (an API problem's detail, say) names this order:
    /// its internal id as a whole number (12 is not named by "Order 123"),
    /// its reference as a whole token (R1 is not named by "Order R10").
    pub fn named_in(&self, text: &str) -> bool {
        match self {
            Identifier::Internal(id) => {
                contains_bounded(text, &id.to_string(), |c| c.is_ascii_digit())
            }
            Identifier::Reference { reference, .. } => {
                contains_bounded(text, reference, joins_reference)
            }
        }
    }
}

/// The characters that continue a reference: a letter or digit (any
/// script), `-` or `_`. Marketplace references are made of these
/// (`AMZ-402-1234567`, `CD_99`), so a neighbour of this kind means the text
/// names a longer reference; anything else (space, `:`, `.`, `,`, quotes,
/// brackets, the end of the text) is a token boundary.
fn joins_reference(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// True when `needle` occurs in `text` with neither neighbour continuing it
/// (`joins` false for the character just before and just after, or the
/// text's start or end there). An empty needle names nothing.
pub(crate) fn contains_bounded(text: &str, needle: &str, joins: impl Fn(char) -> bool) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(pos) = text[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before = text[..start].chars().next_back().is_none_or(|c| !joins(c));
        let after = text[end..].chars().next().is_none_or(|c| !joins(c));
        if before && after {
            return true;
        }
        // Step over the first character of this occurrence (on a char
        // boundary: `from` must stay a valid slice start).
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The identifier of a snapshot: `id_internal_shoppingfeed` when present,
/// else `reference` + `marketplace`.
pub fn identifier(snapshot: &Value) -> Result<Identifier> {
    let obj = snapshot
        .as_object()
        .ok_or_else(|| Error::input("order must be an array (the order snapshot)"))?;
    match obj.get("id_internal_shoppingfeed") {
        None | Some(Value::Null) => {}
        Some(v) => {
            return positive_id(v).map(Identifier::Internal).ok_or_else(|| {
                Error::input(
                "order.id_internal_shoppingfeed must be a positive integer (or a decimal string)",
            )
            })
        }
    }
    let reference = non_empty_str(obj, "reference")?;
    let channel = non_empty_str(obj, "marketplace")?;
    match (reference, channel) {
        (Some(reference), Some(channel)) => Ok(Identifier::Reference { reference, channel }),
        _ => Err(Error::input(
            "order needs an identifier: id_internal_shoppingfeed, or reference and marketplace",
        )),
    }
}

fn non_empty_str(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            if s.len() > 255 {
                return Err(Error::input(format!(
                    "order.{key} is longer than 255 bytes"
                )));
            }
            Ok(Some(s.clone()))
        }
        Some(_) => Err(Error::input(format!("order.{key} must be a string"))),
    }
}

/// Largest snapshot accepted, in bytes of JSON: a snapshot is a handful of
/// fields; anything near this is a bug of the caller, not an order.
pub const MAX_SNAPSHOT_BYTES: usize = 64 * 1024;

/// The limit of an action's snapshot: an invoice's carries its PDFs (as
/// base64, see [`crate::invoice`]), the others [`MAX_SNAPSHOT_BYTES`].
pub fn max_snapshot_bytes(action: &str) -> usize {
    if action == ACTION_SYNC_INVOICE {
        crate::invoice::MAX_UPDATE_BYTES / 3 * 4 + MAX_SNAPSHOT_BYTES
    } else {
        MAX_SNAPSHOT_BYTES
    }
}

/// The operation of a field's action, whatever the order's state: a
/// credit slip is a `refund`, an invoice an `upload-documents`. None for
/// the status (mapped through the state lists) and other actions.
pub fn field_operation(action: &str) -> Option<Operation> {
    match base_action(action) {
        ACTION_SYNC_REFUND => Some(Operation::Refund),
        ACTION_SYNC_INVOICE => Some(Operation::UploadDocuments),
        _ => None,
    }
}

/// The row key's subject of an update (see
/// [`crate::queue::RowKey::subject`]): the credit slip's id for
/// `SYNC_REFUND` (`id_order_slip`, required), 0 for every other action.
pub fn subject_of(action: &str, snapshot: &Value) -> Result<i64> {
    if action != ACTION_SYNC_REFUND {
        return Ok(0);
    }
    snapshot
        .get("id_order_slip")
        .and_then(positive_id)
        .ok_or_else(|| {
            Error::input(
                "order.id_order_slip must be a positive integer (the credit slip this refund is)",
            )
        })
}

/// A partial refund (`SYNC_REFUND`) names its slip and lists what it
/// refunds: the API reads an empty product list as a refund of the whole
/// order, so a slip without products cannot be sent as a partial one.
fn validate_partial_refund(snapshot: &Value) -> Result<()> {
    subject_of(ACTION_SYNC_REFUND, snapshot)?;
    let products = snapshot
        .get("refund")
        .filter(|r| r.is_object())
        .ok_or_else(|| {
            Error::input("order.refund is missing: a credit slip's refund lists its products ('shipping', 'products')")
        })?
        .get("products");
    match products {
        Some(Value::Array(list)) if !list.is_empty() => Ok(()),
        _ => Err(Error::input(
            "order.refund.products is empty: Shopping Feed reads an empty list as a refund of the \
             whole order, so a credit slip without products cannot be sent as a partial refund",
        )),
    }
}

/// Checks a snapshot before it is queued. `SYNC_STATUS` needs
/// `id_order_state` and an identifier, `SYNC_REFUND` its slip and products,
/// `SYNC_INVOICE` its documents; other actions only an identifier.
/// Optional fields must have the documented types.
pub fn validate_snapshot(action: &str, snapshot: &Value) -> Result<()> {
    let obj = snapshot
        .as_object()
        .ok_or_else(|| Error::input("order must be an array (the order snapshot)"))?;
    identifier(snapshot)?;
    match action {
        ACTION_SYNC_STATUS => {
            order_state(snapshot)?;
        }
        ACTION_SYNC_REFUND => validate_partial_refund(snapshot)?,
        ACTION_SYNC_INVOICE => crate::invoice::validate(snapshot)?,
        _ => {}
    }
    for key in ["carrier", "tracking_number", "tracking_url", "reason"] {
        match obj.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(_) => return Err(Error::input(format!("order.{key} must be a string"))),
        }
    }
    if let Some(refund) = obj.get("refund") {
        validate_refund(refund)?;
    }
    Ok(())
}

/// The snapshot's `id_order_state`.
pub fn order_state(snapshot: &Value) -> Result<i64> {
    snapshot
        .get("id_order_state")
        .and_then(positive_id)
        .ok_or_else(|| {
            Error::input("order.id_order_state must be a positive integer (the order state id)")
        })
}

fn validate_refund(refund: &Value) -> Result<()> {
    if refund.is_null() {
        return Ok(());
    }
    let obj = refund.as_object().ok_or_else(|| {
        Error::input("order.refund must be an array with 'shipping' and 'products'")
    })?;
    match obj.get("shipping") {
        None | Some(Value::Bool(_)) => {}
        Some(_) => return Err(Error::input("order.refund.shipping must be a bool")),
    }
    match obj.get("products") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let ok = item.get("reference").is_some_and(Value::is_string)
                    && item
                        .get("quantity")
                        .and_then(Value::as_i64)
                        .is_some_and(|q| q > 0);
                if !ok {
                    return Err(Error::input(
                        "order.refund.products must list ['reference' => string, 'quantity' => int > 0]",
                    ));
                }
            }
        }
        Some(_) => return Err(Error::input("order.refund.products must be a list")),
    }
    Ok(())
}

/// The API element of one row for its operation (see the contract's table).
pub fn element(op: Operation, snapshot: &Value) -> Result<Value> {
    let mut el = identifier(snapshot)?.to_element();
    let text = |key: &str| -> Value {
        match snapshot.get(key) {
            Some(Value::String(s)) => Value::from(s.as_str()),
            _ => Value::from(""),
        }
    };
    match op {
        Operation::Ship => {
            el.insert("carrier".into(), text("carrier"));
            el.insert("trackingNumber".into(), text("tracking_number"));
            el.insert("trackingLink".into(), text("tracking_url"));
        }
        Operation::Cancel => {
            el.insert("reason".into(), text("reason"));
        }
        Operation::Refund => {
            let refund = match snapshot.get("refund") {
                Some(r @ Value::Object(_)) => {
                    let mut r = r.as_object().cloned().unwrap_or_default();
                    r.entry("shipping").or_insert(Value::Bool(true));
                    r.entry("products").or_insert(Value::Array(vec![]));
                    Value::Object(r)
                }
                _ => serde_json::json!({"shipping": true, "products": []}),
            };
            el.insert("refund".into(), refund);
        }
        Operation::Deliver => {}
        Operation::UploadDocuments => return crate::invoice::element(el, snapshot),
    }
    Ok(Value::Object(el))
}

#[cfg(test)]
impl Row {
    /// A fresh row of shop 1 for unit tests (order id = row id, no counters,
    /// no batch): each test sets what it is about.
    pub(crate) fn for_test(id: i64, action: &str, state: State, payload: Value) -> Row {
        Row {
            id,
            id_order: id,
            id_shop: 1,
            action: action.into(),
            state,
            operation: None,
            payload,
            batch_id: None,
            ticket_id: None,
            attempts: 0,
            failures: 0,
            last_error: None,
            update_at: 0,
            date_add: 0,
            date_upd: 0,
            store_id: 0,
            subject: 0,
        }
    }
}

/// The channel rule for matching an API report or ticket to an order named
/// by reference: the same channel (case-insensitive) when both sides give
/// one; an answer that names no channel matches on the reference alone.
pub fn same_channel(theirs: Option<&str>, mine: Option<&str>) -> bool {
    match (theirs.filter(|t| !t.is_empty()), mine) {
        (Some(theirs), Some(mine)) => theirs.eq_ignore_ascii_case(mine),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn action_names() {
        assert!(validate_action("SYNC_STATUS").is_ok());
        assert!(validate_action("SYNC_CARRIER2").is_ok());
        assert!(validate_action("").is_err());
        assert!(validate_action("sync").is_err());
        assert!(validate_action(&"A".repeat(65)).is_err());
        assert_eq!(base_action("CHECK_TICKET_SYNC_STATUS"), "SYNC_STATUS");
        assert_eq!(check_action("SYNC_STATUS"), "CHECK_TICKET_SYNC_STATUS");
    }

    #[test]
    fn identifiers_and_elements() {
        let s = json!({"id_internal_shoppingfeed": "77", "id_order_state": 4, "carrier": "UPS",
                       "tracking_number": "1Z", "tracking_url": "https://t/1Z"});
        validate_snapshot(ACTION_SYNC_STATUS, &s).unwrap();
        assert_eq!(
            element(Operation::Ship, &s).unwrap(),
            json!({"id": 77, "carrier": "UPS", "trackingNumber": "1Z", "trackingLink": "https://t/1Z"})
        );
        let legacy = json!({"reference": "AMZ-1", "marketplace": "amazon", "id_order_state": 6});
        assert_eq!(
            element(Operation::Cancel, &legacy).unwrap(),
            json!({"reference": "AMZ-1", "channelName": "amazon", "reason": ""})
        );
        assert_eq!(
            element(Operation::Refund, &legacy).unwrap()["refund"],
            json!({"shipping": true, "products": []})
        );
        assert!(validate_snapshot(ACTION_SYNC_STATUS, &json!({"reference": "A"})).is_err());
        assert!(validate_snapshot("SYNC_OTHER", &json!({"id_internal_shoppingfeed": 5})).is_ok());
    }

    #[test]
    fn named_in_detail() {
        assert!(Identifier::Internal(12).named_in("Order 12: missing carrier"));
        assert!(!Identifier::Internal(12).named_in("Order 123: missing carrier"));
        let r = Identifier::Reference {
            reference: "AB-1".into(),
            channel: "x".into(),
        };
        assert!(r.named_in("Order AB-1: rejected"));
    }

    #[test]
    fn references_are_named_as_whole_tokens() {
        let named = |reference: &str, detail: &str| {
            Identifier::Reference {
                reference: reference.into(),
                channel: "amazon".into(),
            }
            .named_in(detail)
        };
        // (reference, detail, named)
        let cases = [
            ("R1", "Order R10: missing trackingNumber", false),
            ("R10", "Order R10: missing trackingNumber", true),
            ("R1", "Order R1: missing trackingNumber", true),
            ("R1", "Orders R10, R1 refused", true),
            ("R1", "R1", true),
            ("R1", "order R1.", true),
            ("R1", "'R1'", true),
            ("R1", "(R1)", true),
            ("R1", "XR1 refused", false),
            ("R1", "R1-2 refused", false),
            ("R1", "R1_2 refused", false),
            ("R1", "R1é refused", false),
            ("AB-1", "Order AB-1: rejected", true),
            ("AB-1", "Order AB-12: rejected", false),
            ("1", "Order element 0: missing carrier", false),
            ("é", "ééé é", true),
            ("", "anything", false),
        ];
        for (reference, detail, expected) in cases {
            assert_eq!(
                named(reference, detail),
                expected,
                "{reference:?} in {detail:?}"
            );
        }
        // Ids keep their whole-number rule: only digits continue them.
        assert!(Identifier::Internal(12).named_in("Order 12a"));
        assert!(!Identifier::Internal(12).named_in("Order 312"));
    }
}

//! Hostile ticket answers a client must survive (config switches, all off
//! by default): unknown ticket states, tickets naming another batch, two
//! tickets for one order in one batch, and many slow ticket pages.
//!
//! They only change what ticket reads show: the sandbox's own bookkeeping
//! (stats, `/_sandbox/orders`, re-send rules, `state=` filters,
//! `meta.processing`) keeps following the real tickets, so a test can tell
//! what the client was shown from what happened.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::hal::TicketView;
use crate::state::{Outcome, State, TState};

/// `ticket_pages`: every ticket collection read announces at least `pages`
/// pages and each read of one takes `page_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketPages {
    pub pages: u64,
    pub page_ms: u64,
}

/// Longest `page_ms` accepted (a page that takes longer is a hang: use `hang`).
const MAX_PAGE_MS: u64 = 60_000;

#[derive(Clone, Debug, Default)]
pub struct Quirks {
    /// order key -> state string shown on every ticket of that order.
    pub ticket_state_override: HashMap<String, String>,
    /// Batch reads also list a twin of each ticket from another batch.
    pub foreign_tickets: bool,
    /// order key -> states of the tickets listed for that order in its
    /// batch, oldest first; the real ticket is the last (the newest).
    pub duplicate_tickets: HashMap<String, Vec<TState>>,
    pub ticket_pages: Option<TicketPages>,
    /// `/v1/me` carries the caller's real token instead of a stand-in.
    pub echo_token: bool,
}

/// The message of the shadow tickets this module makes up.
const FOREIGN_MSG: &str = "Ticket of another batch (sandbox foreign_tickets)";
const DUP_MSG: &str = "Duplicate ticket (sandbox duplicate_tickets)";

impl Quirks {
    /// Applies one config key; false when the key is not one of these.
    pub fn merge_key(&mut self, k: &str, v: &Value) -> Result<bool, String> {
        match k {
            "ticket_state_override" => {
                self.ticket_state_override = match v {
                    Value::Null => HashMap::new(),
                    Value::Object(m) => m
                        .iter()
                        .map(|(key, s)| match s.as_str() {
                            Some(s) if !s.is_empty() => Ok((key.clone(), s.to_string())),
                            _ => Err(format!(
                                "ticket_state_override.{key} must be a non-empty string (the state shown)"
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err("ticket_state_override must be an object: order key -> state".into()),
                }
            }
            "foreign_tickets" => {
                self.foreign_tickets = v
                    .as_bool()
                    .ok_or("foreign_tickets must be a boolean")?
            }
            "duplicate_tickets" => {
                self.duplicate_tickets = match v {
                    Value::Null => HashMap::new(),
                    Value::Object(m) => m
                        .iter()
                        .map(|(key, list)| parse_states(key, list).map(|l| (key.clone(), l)))
                        .collect::<Result<_, _>>()?,
                    _ => return Err("duplicate_tickets must be an object: order key -> [states]".into()),
                }
            }
            "ticket_pages" => self.ticket_pages = parse_pages(v)?,
            "echo_token" => self.echo_token = v.as_bool().ok_or("echo_token must be a boolean")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn write_json(&self, m: &mut Map<String, Value>) {
        let dups: Map<String, Value> = self
            .duplicate_tickets
            .iter()
            .map(|(k, l)| (k.clone(), l.iter().map(|s| s.as_str()).collect()))
            .collect();
        m.insert(
            "ticket_state_override".into(),
            json!(self.ticket_state_override),
        );
        m.insert("foreign_tickets".into(), json!(self.foreign_tickets));
        m.insert("duplicate_tickets".into(), Value::Object(dups));
        m.insert(
            "ticket_pages".into(),
            match self.ticket_pages {
                Some(p) => json!({"pages": p.pages, "page_ms": p.page_ms}),
                None => Value::Null,
            },
        );
        m.insert("echo_token".into(), json!(self.echo_token));
    }

    fn names_order(&self) -> bool {
        !self.ticket_state_override.is_empty() || !self.duplicate_tickets.is_empty()
    }
}

fn parse_states(key: &str, v: &Value) -> Result<Vec<TState>, String> {
    let err = || {
        format!(
            "duplicate_tickets.{key} must be an array of 2 to 10 ticket states (scheduled, running, succeed, failed, canceled)"
        )
    };
    let list = v.as_array().ok_or_else(err)?;
    if !(2..=10).contains(&list.len()) {
        return Err(err());
    }
    list.iter()
        .map(|s| s.as_str().and_then(TState::parse).ok_or_else(err))
        .collect()
}

fn parse_pages(v: &Value) -> Result<Option<TicketPages>, String> {
    let shape = || {
        format!("ticket_pages must be null or {{\"pages\": 1..=100000, \"page_ms\": 0..={MAX_PAGE_MS}}}")
    };
    if v.is_null() {
        return Ok(None);
    }
    let o = v.as_object().ok_or_else(shape)?;
    if o.keys().any(|k| k != "pages" && k != "page_ms") {
        return Err(shape());
    }
    let pages = o.get("pages").and_then(Value::as_u64);
    let ms = o.get("page_ms").map_or(Some(0), Value::as_u64);
    match (pages, ms) {
        (Some(p @ 1..=100_000), Some(m @ 0..=MAX_PAGE_MS)) => Ok(Some(TicketPages {
            pages: p,
            page_ms: m,
        })),
        _ => Err(shape()),
    }
}

/// The decimal id and the reference an order element names (the keys the
/// config maps use), read back from a ticket payload.
fn order_keys(payload: &str) -> (Option<String>, Option<String>) {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(payload) else {
        return (None, None);
    };
    let id = o.get("id").and_then(Value::as_i64).map(|i| i.to_string());
    let reference = o
        .get("reference")
        .and_then(Value::as_str)
        .map(str::to_string);
    (id, reference)
}

fn lookup<'a, V>(
    m: &'a HashMap<String, V>,
    keys: &(Option<String>, Option<String>),
) -> Option<&'a V> {
    keys.0
        .as_ref()
        .and_then(|k| m.get(k))
        .or_else(|| keys.1.as_ref().and_then(|k| m.get(k)))
}

/// One entry of a ticket collection as shown.
#[derive(Clone, Copy)]
pub enum Shown {
    /// A real ticket (possibly with an overridden state).
    Real(u32),
    /// The made-up twin of a real ticket, from another batch.
    Foreign(u32),
    /// The `n`-th (oldest first) of the made-up older duplicates.
    Older(u32, u8),
}

/// Salts of the made-up ids, so they never resolve to a real batch or ticket.
const SALT_FOREIGN_BATCH: u64 = 1;
const SALT_FOREIGN_TICKET: u64 = 2;
const SALT_DUP_TICKET: u64 = 3;

impl State {
    /// The entries shown for the selected real tickets: each real one
    /// preceded by its older duplicates and, for a batch read, its foreign
    /// twin (first, so a client that keeps the first ticket it sees of an
    /// order is caught).
    pub fn shown_tickets(&self, selected: &[u32], batch_read: bool) -> Vec<Shown> {
        let q = &self.cfg.quirks;
        if !q.foreign_tickets && q.duplicate_tickets.is_empty() {
            return selected.iter().map(|&i| Shown::Real(i)).collect();
        }
        let mut out = Vec::with_capacity(selected.len() * 2);
        for &idx in selected {
            if q.foreign_tickets && batch_read {
                out.push(Shown::Foreign(idx));
            }
            if !q.duplicate_tickets.is_empty() {
                let keys = order_keys(&self.ticket(idx).payload);
                if let Some(list) = lookup(&q.duplicate_tickets, &keys) {
                    for n in 0..list.len() - 1 {
                        out.push(Shown::Older(idx, n as u8));
                    }
                }
            }
            out.push(Shown::Real(idx));
        }
        out
    }

    pub fn write_shown(&self, out: &mut String, s: Shown, now: Instant) {
        match s {
            Shown::Real(idx) => self.write_ticket(out, idx, now),
            Shown::Foreign(idx) => {
                let t = self.ticket(idx);
                let (state, message) = match t.outcome {
                    Outcome::Succeed => (TState::Failed, Some(FOREIGN_MSG)),
                    _ => (TState::Succeed, None),
                };
                // an older batch's ticket: settled a minute before this one
                let at = t.created_ms.saturating_sub(60_000);
                let id = self.synthetic_id(SALT_FOREIGN_TICKET, u64::from(idx));
                let batch = self.synthetic_id(SALT_FOREIGN_BATCH, u64::from(t.batch));
                let shown = self.state_override(&t.payload).unwrap_or(state.as_str());
                TicketView {
                    store: t.store,
                    id: &id,
                    batch_id: &batch,
                    ticket_type: t.op.ticket_type(),
                    state: shown,
                    payload: &t.payload,
                    message,
                    scheduled_ms: at,
                    started_ms: Some(at),
                    finished_ms: Some(at),
                }
                .write(out);
            }
            Shown::Older(idx, n) => {
                let t = self.ticket(idx);
                let keys = order_keys(&t.payload);
                let list = lookup(&self.cfg.quirks.duplicate_tickets, &keys);
                let (state, behind) = match list {
                    Some(l) => (l[n as usize], (l.len() - 1 - n as usize) as u64),
                    None => (TState::Succeed, 1),
                };
                // older by whole seconds: the dates have second precision
                let at = t.created_ms.saturating_sub(behind * 1000);
                let id = self.synthetic_id(SALT_DUP_TICKET, (u64::from(n) << 32) | u64::from(idx));
                let shown = self.state_override(&t.payload).unwrap_or(state.as_str());
                let message = matches!(state, TState::Failed | TState::Canceled).then_some(DUP_MSG);
                TicketView {
                    store: t.store,
                    id: &id,
                    batch_id: &self.batch_id(t.batch),
                    ticket_type: t.op.ticket_type(),
                    state: shown,
                    payload: &t.payload,
                    message,
                    scheduled_ms: at,
                    started_ms: (state != TState::Scheduled).then_some(at),
                    finished_ms: state.is_final().then_some(at),
                }
                .write(out);
            }
        }
    }

    /// The state string `ticket_state_override` shows for tickets of the
    /// order this payload names.
    pub fn state_override(&self, payload: &str) -> Option<&str> {
        let m = &self.cfg.quirks.ticket_state_override;
        if m.is_empty() {
            return None;
        }
        lookup(m, &order_keys(payload)).map(String::as_str)
    }

    /// What a real ticket shows instead of its own state: the override, else
    /// the newest state of its `duplicate_tickets` list.
    pub fn shown_state_of(&self, payload: &str) -> Option<ShownState<'_>> {
        if !self.cfg.quirks.names_order() {
            return None;
        }
        if let Some(s) = self.state_override(payload) {
            return Some(ShownState::Raw(s));
        }
        let list = lookup(&self.cfg.quirks.duplicate_tickets, &order_keys(payload))?;
        list.last().copied().map(ShownState::Known)
    }
}

/// A state shown instead of the real one.
pub enum ShownState<'a> {
    /// Any string (`ticket_state_override`): dates and result stay the real ones.
    Raw(&'a str),
    /// A ticket state (the newest of `duplicate_tickets`).
    Known(TState),
}

/// Message of a real ticket shown `failed`/`canceled` by `duplicate_tickets`
/// while its own outcome has none.
pub const DUP_SHOWN_MSG: &str = DUP_MSG;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_are_checked() {
        let mut q = Quirks::default();
        assert_eq!(q.merge_key("nope", &json!(1)), Ok(false));
        assert!(q
            .merge_key("duplicate_tickets", &json!({"1": ["failed"]}))
            .is_err());
        assert!(q
            .merge_key("duplicate_tickets", &json!({"1": ["failed", "SUCCEED"]}))
            .is_err());
        assert!(q
            .merge_key("ticket_pages", &json!({"pages": 0, "page_ms": 1}))
            .is_err());
        assert!(q
            .merge_key("ticket_state_override", &json!({"1": ""}))
            .is_err());
        assert_eq!(q.merge_key("ticket_pages", &json!({"pages": 3})), Ok(true));
        assert_eq!(
            q.ticket_pages,
            Some(TicketPages {
                pages: 3,
                page_ms: 0
            })
        );
    }

    #[test]
    fn payload_keys() {
        assert_eq!(
            order_keys(r#"{"id": 12, "reference": "R"}"#),
            (Some("12".into()), Some("R".into()))
        );
        assert_eq!(order_keys("{"), (None, None));
    }
}

//! The control API's switches: `/_sandbox/config` (shown and merged) and
//! `/_sandbox/faults` specs, parsed here so a bad value is a 400 naming it.

use serde_json::{json, Value};
use std::collections::HashMap;

use crate::rate_limit;
use crate::state::{Fault, FaultKind, FaultOn, RuntimeConfig};

pub fn config_json(c: &RuntimeConfig) -> String {
    let mut unknown: Vec<&String> = c.unknown_batches.iter().collect();
    unknown.sort();
    let mut v = json!({
        "latency_ms": c.latency_ms,
        "ticket_delay_ms": c.ticket_delay_ms,
        "hang": c.hang,
        "fail_orders": c.fail_orders,
        "cancel_orders": c.cancel_orders,
        "reject_orders": c.reject_orders,
        "forget_batches": c.forget_batches,
        "unknown_batches": unknown,
        "store_ids": c.store_ids,
        "token_count": c.tokens.len(),
        "token_store_count": c.token_stores.len(),
        "rate_limit": rate_limit::to_json(c.rate_limit),
    });
    if let Value::Object(m) = &mut v {
        c.quirks.write_json(m);
        c.documents.write_json(m);
    }
    v.to_string()
}

fn as_u64(v: &Value, k: &str) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("{k} must be a non-negative integer"))
}

fn as_bool(v: &Value, k: &str) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| format!("{k} must be a boolean"))
}

fn str_map(v: &Value, k: &str) -> Result<std::collections::HashMap<String, String>, String> {
    match v {
        Value::Null => Ok(Default::default()),
        Value::Object(m) => m
            .iter()
            .map(|(key, msg)| match msg {
                Value::String(s) => Ok((key.clone(), s.clone())),
                _ => Err(format!("{k}.{key} must be a string (the message)")),
            })
            .collect(),
        _ => Err(format!("{k} must be an object: order key -> message")),
    }
}

/// Applies the given keys onto a copy of `cur`; object and array values
/// replace the previous ones (null clears them).
pub fn merge_config(cur: &RuntimeConfig, v: &Value) -> Result<RuntimeConfig, String> {
    let Some(m) = v.as_object() else {
        return Err("config must be a JSON object".into());
    };
    let mut c = cur.clone();
    for (k, val) in m {
        match k.as_str() {
            "latency_ms" => c.latency_ms = as_u64(val, k)?,
            "ticket_delay_ms" => c.ticket_delay_ms = as_u64(val, k)?,
            "hang" => c.hang = as_bool(val, k)?,
            "forget_batches" => c.forget_batches = as_bool(val, k)?,
            "fail_orders" => c.fail_orders = str_map(val, k)?,
            "cancel_orders" => c.cancel_orders = str_map(val, k)?,
            "reject_orders" => {
                c.reject_orders = match val {
                    Value::Null => Default::default(),
                    Value::Object(o) => o
                        .iter()
                        .map(|(key, s)| match s.as_u64() {
                            Some(s @ (400 | 404 | 409 | 422)) => Ok((key.clone(), s as u16)),
                            _ => Err(format!(
                                "reject_orders.{key} must be one of 400, 404, 409, 422"
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err("reject_orders must be an object: order key -> status".into()),
                }
            }
            "unknown_batches" => {
                c.unknown_batches = match val {
                    Value::Null => Default::default(),
                    Value::Array(a) => a
                        .iter()
                        .map(|b| {
                            b.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| "unknown_batches must hold strings".to_string())
                        })
                        .collect::<Result<_, _>>()?,
                    _ => return Err("unknown_batches must be an array of batch ids".into()),
                }
            }
            "tokens" => {
                let t: Option<Vec<String>> = val.as_array().map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                });
                match t {
                    Some(t) if !t.is_empty() && t.len() == val.as_array().map_or(0, Vec::len) => {
                        c.tokens = t
                    }
                    _ => return Err("tokens must be a non-empty array of strings".into()),
                }
            }
            "store_ids" => {
                let s: Option<Vec<i64>> = val
                    .as_array()
                    .and_then(|a| a.iter().map(Value::as_i64).collect());
                match s {
                    Some(s) => c.store_ids = s,
                    None => return Err("store_ids must be an array of integers".into()),
                }
            }
            "token_stores" => {
                // {"token": [store ids], ...}: each token sees only its stores.
                let parsed: Option<HashMap<String, Vec<i64>>> = val.as_object().and_then(|m| {
                    m.iter()
                        .map(|(t, v)| {
                            v.as_array()
                                .and_then(|a| a.iter().map(Value::as_i64).collect())
                                .map(|s| (t.clone(), s))
                        })
                        .collect()
                });
                match parsed {
                    Some(map) => c.token_stores = map,
                    None => {
                        return Err(
                            "token_stores must be an object: token => array of store ids".into(),
                        )
                    }
                }
            }
            "rate_limit" => c.rate_limit = rate_limit::parse(val)?,
            other => {
                if !c.quirks.merge_key(other, val)? && !c.documents.merge_key(other, val)? {
                    return Err(format!("Unknown config key: {other}"));
                }
            }
        }
    }
    Ok(c)
}

pub fn parse_faults(v: &Value) -> Result<Vec<Fault>, String> {
    let list: Vec<&Value> = match v.get("faults") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err("faults must be an array".into()),
        None if v.get("kind").is_some() => vec![v],
        None => return Err("expected {\"faults\": [...]}".into()),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, f)| {
            let kind = f.get("kind").and_then(Value::as_str).unwrap_or("");
            let count = match f.get("count") {
                None => 1,
                Some(c) => match c.as_u64() {
                    Some(n) if n >= 1 => n,
                    _ => return Err(format!("faults[{i}].count must be a positive integer")),
                },
            };
            let on = match f.get("on").and_then(Value::as_str) {
                None | Some("any") => FaultOn::Any,
                Some("order") => FaultOn::Order,
                Some("ticket") => FaultOn::Ticket,
                Some(o) => return Err(format!("faults[{i}].on: unknown {o:?} (order, ticket, any)")),
            };
            let kind = match kind {
                "status" => match f.get("status").and_then(Value::as_u64) {
                    Some(s @ 400..=599) => FaultKind::Status(s as u16),
                    None => FaultKind::Status(500),
                    _ => return Err(format!("faults[{i}].status must be within 400..=599")),
                },
                "rate_limit" => match f.get("wait") {
                    None => FaultKind::RateLimit(1.0),
                    Some(w) => match w.as_f64() {
                        Some(w) if w >= 0.0 && w.is_finite() => FaultKind::RateLimit(w),
                        _ => return Err(format!("faults[{i}].wait must be a number of seconds")),
                    },
                },
                "drop" => FaultKind::Drop,
                "malformed" => FaultKind::Malformed,
                "huge" => FaultKind::Huge,
                "slow" => match f.get("ms") {
                    None => FaultKind::Slow(1000),
                    Some(m) => FaultKind::Slow(as_u64(m, &format!("faults[{i}].ms"))?),
                },
                other => {
                    return Err(format!(
                        "faults[{i}].kind: unknown {other:?} (status, rate_limit, drop, malformed, huge, slow)"
                    ))
                }
            };
            Ok(Fault {
                kind,
                remaining: count,
                on,
            })
        })
        .collect()
}

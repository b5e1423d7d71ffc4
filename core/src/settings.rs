//! The `SHOPPINGFEED_*` settings: names, defaults, parsing.
//!
//! The binding resolves a name to a raw value (the conveyor's `settings`,
//! then PrestaShop's `Configuration::get`, else `None` for the default) and
//! hands it over as JSON: PrestaShop gives strings (`'1'`, `'[4]'`, `'100'`),
//! the conveyor may give native types. Each step reads only the settings it
//! needs, so a malformed value fails the step that reads it.

use crate::error::{Error, Result};
use serde_json::Value;

pub const REAL_TIME: &str = "SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION";
pub const MAX_ORDERS: &str = "SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS";
pub const TIME_SHIFT: &str = "SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT";
pub const SHIPPED: &str = "SHOPPINGFEED_SHIPPED_ORDERS";
pub const CANCELLED: &str = "SHOPPINGFEED_CANCELLED_ORDERS";
pub const REFUNDED: &str = "SHOPPINGFEED_REFUNDED_ORDERS";
pub const DELIVERED: &str = "SHOPPINGFEED_DELIVERED_ORDERS";
pub const MAX_ATTEMPTS: &str = "SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS";
pub const RETRY_DELAY: &str = "SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY";
pub const LEASE_TIME: &str = "SHOPPINGFEED_ORDER_STATUS_LEASE_TIME";
pub const TRACKING_WAIT: &str = "SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT";
pub const REAL_TIME_MODE: &str = "SHOPPINGFEED_REAL_TIME_MODE";

/// Every setting the extension reads, for documentation and Reflection tests.
pub const ALL: [&str; 12] = [
    REAL_TIME,
    MAX_ORDERS,
    TIME_SHIFT,
    SHIPPED,
    CANCELLED,
    REFUNDED,
    DELIVERED,
    MAX_ATTEMPTS,
    RETRY_DELAY,
    LEASE_TIME,
    TRACKING_WAIT,
    REAL_TIME_MODE,
];

/// The settings the send path reads (claim, prepare, send): what a
/// real-time `saveOrder` hands the background sender, resolved.
pub const SEND_PATH: [&str; 9] = [
    MAX_ORDERS,
    SHIPPED,
    CANCELLED,
    REFUNDED,
    DELIVERED,
    MAX_ATTEMPTS,
    RETRY_DELAY,
    LEASE_TIME,
    TRACKING_WAIT,
];

/// How real-time mode sends (`SHOPPINGFEED_REAL_TIME_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealTimeMode {
    /// In the merchant's request, one attempt bounded by `timeout_ms` (v1).
    Inline,
    /// Off the request: the process's background sender
    /// ([`crate::background`]).
    Background,
}

/// Where raw setting values come from. `Ok(None)` means "not set: use the
/// default" (PrestaShop's `false`).
pub trait SettingsSource {
    fn raw(&self, name: &str) -> Result<Option<Value>>;
}

/// A fixed map of values, for tests and for callers without PrestaShop.
impl SettingsSource for serde_json::Map<String, Value> {
    fn raw(&self, name: &str) -> Result<Option<Value>> {
        Ok(self
            .get(name)
            .filter(|v| !matches!(v, Value::Bool(false) | Value::Null))
            .cloned())
    }
}

/// Defaults only.
pub struct Defaults;

impl SettingsSource for Defaults {
    fn raw(&self, _name: &str) -> Result<Option<Value>> {
        Ok(None)
    }
}

/// Longest excerpt of a bad value quoted in the error, in bytes.
const SHOWN_BYTES: usize = 80;

fn bad(name: &str, what: &str, got: &Value) -> Error {
    let shown = crate::text::shorten(&got.to_string(), SHOWN_BYTES);
    Error::input(format!("setting {name} must be {what}, got {shown}"))
}

/// A boolean: true/false, 1/0, "1"/"0", "true"/"false", "" (false).
pub fn bool_setting(src: &dyn SettingsSource, name: &str, default: bool) -> Result<bool> {
    let Some(v) = src.raw(name)? else {
        return Ok(default);
    };
    match &v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(n.as_i64() == Some(1))
        }
        Value::String(s) => match s.trim() {
            "1" | "true" | "on" | "yes" => Ok(true),
            "0" | "false" | "off" | "no" | "" => Ok(false),
            _ => Err(bad(name, "a boolean ('1' or '0')", &v)),
        },
        _ => Err(bad(name, "a boolean ('1' or '0')", &v)),
    }
}

/// An integer in `min..=max`, given as a number or a decimal string.
pub fn int_setting(
    src: &dyn SettingsSource,
    name: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64> {
    let Some(v) = src.raw(name)? else {
        return Ok(default);
    };
    let n = match &v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(name, &format!("an integer from {min} to {max}"), &v)),
    }
}

/// A list of order state ids: a JSON array of ints, as a string (`'[4,5]'`)
/// or a native array. Decimal strings inside are accepted (`'["4"]'`).
pub fn state_list(src: &dyn SettingsSource, name: &str) -> Result<Vec<i64>> {
    let Some(v) = src.raw(name)? else {
        return Ok(Vec::new());
    };
    let parsed;
    let list = match &v {
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|_| bad(name, "a JSON array of order state ids", &v))?;
            &parsed
        }
        other => other,
    };
    let items = match list {
        Value::Array(items) => items,
        Value::Object(map) => {
            // PHP arrays with holes arrive as objects: take the values.
            return map
                .values()
                .map(|i| {
                    crate::model::positive_id(i)
                        .ok_or_else(|| bad(name, "a JSON array of order state ids", &v))
                })
                .collect();
        }
        _ => return Err(bad(name, "a JSON array of order state ids", &v)),
    };
    items
        .iter()
        .map(|i| {
            crate::model::positive_id(i)
                .ok_or_else(|| bad(name, "a JSON array of order state ids", &v))
        })
        .collect()
}

pub fn real_time(src: &dyn SettingsSource) -> Result<bool> {
    bool_setting(src, REAL_TIME, false)
}

/// `inline` (the default) or `background`, in any case.
pub fn real_time_mode(src: &dyn SettingsSource) -> Result<RealTimeMode> {
    let Some(v) = src.raw(REAL_TIME_MODE)? else {
        return Ok(RealTimeMode::Inline);
    };
    match v.as_str().map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        Some("inline") | Some("") => Ok(RealTimeMode::Inline),
        Some("background") => Ok(RealTimeMode::Background),
        _ => Err(bad(REAL_TIME_MODE, "inline or background", &v)),
    }
}

/// Batch size: rows claimed by one `getBatch`.
pub fn max_orders(src: &dyn SettingsSource) -> Result<i64> {
    int_setting(src, MAX_ORDERS, 100, 1, 100_000)
}

/// Minutes a shipped update waits for tracking data.
pub fn time_shift_minutes(src: &dyn SettingsSource) -> Result<i64> {
    int_setting(src, TIME_SHIFT, 5, 0, 10_080)
}

/// The limit on order-specific failures: a row reaching it becomes
/// `failed` (the setting keeps its historical name, `..._MAX_ATTEMPTS`;
/// outages count as attempts but never as failures, see [`crate::retry`]).
/// Hours a `ship` without a tracking number waits for one, counted from the
/// update's first save (`date_add`), before it goes without. 4 by default:
/// long enough for a merchant who types the number after packing, short
/// enough that a marketplace's ship-by deadline (counted from the shipment
/// confirmation) is not missed because of it. 0 sends at once; at most 168
/// (a week, within the clock-step bound on due times).
pub fn tracking_wait_hours(src: &dyn SettingsSource) -> Result<i64> {
    int_setting(src, TRACKING_WAIT, 4, 0, 168)
}

pub fn max_failures(src: &dyn SettingsSource) -> Result<i64> {
    int_setting(src, MAX_ATTEMPTS, 5, 1, 1_000)
}

/// Base retry delay in seconds (the backoff: [`crate::retry::delay`]), at
/// most [`crate::retry::MAX_RETRY_DELAY_SECS`]: every delay is capped there,
/// so a larger base would be silently the same as the cap.
pub fn retry_delay(src: &dyn SettingsSource) -> Result<i64> {
    let cap = crate::retry::MAX_RETRY_DELAY_SECS;
    int_setting(src, RETRY_DELAY, 60, 0, cap).map_err(|e| {
        Error::input(format!(
            "{} (every retry delay is capped at {cap} s)",
            e.message()
        ))
    })
}

/// Seconds a claim lasts.
pub fn lease_time(src: &dyn SettingsSource) -> Result<i64> {
    int_setting(src, LEASE_TIME, 300, 1, 86_400)
}

/// The four state lists, mapping an order state to an operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateLists {
    pub shipped: Vec<i64>,
    pub cancelled: Vec<i64>,
    pub refunded: Vec<i64>,
    pub delivered: Vec<i64>,
}

impl StateLists {
    /// Reads the four lists; a state id in two of them is refused, naming
    /// both settings (which operation the merchant meant cannot be guessed,
    /// and taking the first list would send it silently).
    pub fn read(src: &dyn SettingsSource) -> Result<StateLists> {
        let lists = StateLists {
            shipped: state_list(src, SHIPPED)?,
            cancelled: state_list(src, CANCELLED)?,
            refunded: state_list(src, REFUNDED)?,
            delivered: state_list(src, DELIVERED)?,
        };
        lists.check_disjoint()?;
        Ok(lists)
    }

    /// Each list with its setting's name and operation, in setting order.
    fn named(&self) -> [(&'static str, &Vec<i64>, crate::model::Operation); 4] {
        use crate::model::Operation::*;
        [
            (SHIPPED, &self.shipped, Ship),
            (CANCELLED, &self.cancelled, Cancel),
            (REFUNDED, &self.refunded, Refund),
            (DELIVERED, &self.delivered, Deliver),
        ]
    }

    fn check_disjoint(&self) -> Result<()> {
        let named = self.named();
        for (i, (first, list, _)) in named.iter().enumerate() {
            for (second, other, _) in &named[i + 1..] {
                if let Some(state) = list.iter().find(|s| other.contains(s)) {
                    return Err(Error::input(format!(
                        "order state {state} is in both {first} and {second}: \
                         a state must map to one Shopping Feed operation"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The operation of an order state (the lists are disjoint: [`read`](Self::read)).
    pub fn operation(&self, id_order_state: i64) -> Option<crate::model::Operation> {
        self.named()
            .into_iter()
            .find(|(_, list, _)| list.contains(&id_order_state))
            .map(|(_, _, op)| op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn src(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_and_prestashop_strings() {
        assert!(!real_time(&Defaults).unwrap());
        assert_eq!(max_orders(&Defaults).unwrap(), 100);
        let s = src(&[
            (REAL_TIME, json!("1")),
            (MAX_ORDERS, json!("250")),
            (SHIPPED, json!("[4, \"5\"]")),
        ]);
        assert!(real_time(&s).unwrap());
        assert_eq!(max_orders(&s).unwrap(), 250);
        assert_eq!(state_list(&s, SHIPPED).unwrap(), vec![4, 5]);
        let native = src(&[(CANCELLED, json!([6])), (TIME_SHIFT, json!(0))]);
        assert_eq!(state_list(&native, CANCELLED).unwrap(), vec![6]);
        assert_eq!(time_shift_minutes(&native).unwrap(), 0);
    }

    #[test]
    fn malformed_values_name_the_setting() {
        let s = src(&[
            (SHIPPED, json!("4,5")),
            (MAX_ORDERS, json!("lots")),
            (REFUNDED, json!("[\"x\"]")),
        ]);
        assert!(state_list(&s, SHIPPED)
            .unwrap_err()
            .message()
            .contains(SHIPPED));
        assert!(max_orders(&s).unwrap_err().message().contains(MAX_ORDERS));
        assert!(state_list(&s, REFUNDED).is_err());
    }

    #[test]
    fn a_state_in_two_lists_is_refused_naming_both() {
        let s = src(&[(SHIPPED, json!("[4, 9]")), (DELIVERED, json!("[5, 9]"))]);
        let err = StateLists::read(&s).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{err:?}");
        let msg = err.message();
        assert!(msg.contains("order state 9"), "{msg}");
        assert!(msg.contains(SHIPPED) && msg.contains(DELIVERED), "{msg}");
        let s = src(&[(CANCELLED, json!("[6]")), (REFUNDED, json!([6]))]);
        let msg = StateLists::read(&s).unwrap_err().message().to_string();
        assert!(msg.contains(CANCELLED) && msg.contains(REFUNDED), "{msg}");
        // A state repeated inside one list is harmless.
        let s = src(&[(SHIPPED, json!("[4, 4]")), (CANCELLED, json!("[6]"))]);
        let lists = StateLists::read(&s).unwrap();
        assert_eq!(lists.operation(4), Some(crate::model::Operation::Ship));
        assert_eq!(lists.operation(6), Some(crate::model::Operation::Cancel));
        assert_eq!(lists.operation(8), None);
    }

    #[test]
    fn retry_delay_is_bounded_by_the_delay_cap() {
        let ok = src(&[(RETRY_DELAY, json!("3600"))]);
        assert_eq!(retry_delay(&ok).unwrap(), 3600);
        assert_eq!(retry_delay(&Defaults).unwrap(), 60);
        for bad in [json!("3601"), json!(86_400), json!("-1")] {
            let err = retry_delay(&src(&[(RETRY_DELAY, bad.clone())])).unwrap_err();
            assert!(matches!(err, Error::Input(_)), "{err:?}");
            let msg = err.message();
            assert!(msg.contains(RETRY_DELAY), "{msg}");
            assert!(msg.contains("from 0 to 3600"), "{msg}");
            assert!(msg.contains("capped at 3600 s"), "{msg}");
        }
    }

    #[test]
    fn multi_byte_value_near_the_cut_names_the_setting() {
        // 'é' straddles byte 80 of the shown value (the opening quote is
        // byte 0): cutting there used to panic.
        let value = format!("{}é{}", "a".repeat(78), "bbbb");
        let s = src(&[(MAX_ORDERS, json!(value))]);
        let err = max_orders(&s).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{err:?}");
        assert!(err.message().contains(MAX_ORDERS), "{}", err.message());
        assert!(err.message().ends_with(&format!("\"{}…", "a".repeat(78))));
    }
}

//! Declared orders (`POST /_sandbox/orders`): a test tells the sandbox
//! which products an order holds, so refunds are checked against them. A
//! refund of a declared order that names a product the order does not
//! have, or more than is left to refund, fails; a valid one is counted.
//! Orders nobody declared keep the old behaviour (any refund succeeds).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::state::{OrderKey, State};

pub struct Item {
    pub reference: String,
    pub quantity: u64,
    /// Taken by succeeded refunds so far.
    pub refunded: u64,
}

pub struct Declared {
    pub store: i64,
    pub id: Option<i64>,
    pub reference: Option<String>,
    pub channel: Option<String>,
    pub items: Vec<Item>,
}

impl Declared {
    /// The key the order book lists it under (its id when it has one).
    pub fn key(&self) -> OrderKey {
        match (self.id, &self.reference, &self.channel) {
            (Some(id), _, _) => OrderKey::Id(id),
            (None, Some(r), Some(c)) => OrderKey::Ref(r.as_str().into(), c.as_str().into()),
            // parse() refuses an order with neither
            (None, _, _) => OrderKey::Id(0),
        }
    }

    fn keys(&self) -> Vec<OrderKey> {
        let mut k = Vec::new();
        if let Some(id) = self.id {
            k.push(OrderKey::Id(id));
        }
        if let (Some(r), Some(c)) = (&self.reference, &self.channel) {
            k.push(OrderKey::Ref(r.as_str().into(), c.as_str().into()));
        }
        k
    }

    pub fn json(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|i| json!({"reference": i.reference, "quantity": i.quantity, "refunded": i.refunded}))
            .collect();
        json!({
            "store": self.store,
            "id": self.id,
            "reference": self.reference,
            "channelName": self.channel,
            "items": items,
        })
    }

    /// Everything ordered was refunded.
    pub fn fully_refunded(&self) -> bool {
        self.items.iter().all(|i| i.refunded >= i.quantity)
    }
}

/// Parses one declaration; `stores` are the account's (the first is the
/// default). The error is the 400's detail.
pub fn parse(v: &Value, stores: &[i64]) -> Result<Declared, String> {
    let o = v
        .as_object()
        .ok_or("an order declaration must be a JSON object")?;
    if let Some(k) = o.keys().find(|k| {
        !matches!(
            k.as_str(),
            "store" | "id" | "reference" | "channelName" | "items"
        )
    }) {
        return Err(format!(
            "unknown key {k:?} (store, id, reference, channelName, items)"
        ));
    }
    let store = match o.get("store") {
        None | Some(Value::Null) => *stores.first().ok_or("the account has no store")?,
        Some(s) => s.as_i64().ok_or("store must be an integer")?,
    };
    if !stores.contains(&store) {
        return Err(format!(
            "store {store} is not one of the account's stores (store_ids)"
        ));
    }
    let opt_str = |k: &str| match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(format!("{k} must be a non-empty string or null")),
    };
    let id = match o.get("id") {
        None | Some(Value::Null) => None,
        Some(i) => Some(i.as_i64().ok_or("id must be an integer or null")?),
    };
    let reference = opt_str("reference")?;
    let channel = opt_str("channelName")?;
    if id.is_none() && (reference.is_none() || channel.is_none()) {
        return Err("an order needs an id, or a reference and a channelName".into());
    }
    let list = match o.get("items") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err("items must be a non-empty array of {reference, quantity}".into()),
    };
    let mut items: Vec<Item> = Vec::with_capacity(list.len());
    for (j, it) in list.iter().enumerate() {
        let reference = it.get("reference").and_then(Value::as_str);
        let quantity = it.get("quantity").and_then(Value::as_u64);
        let (Some(r), Some(q @ 1..)) = (reference.filter(|r| !r.is_empty()), quantity) else {
            return Err(format!(
                "items[{j}] needs a non-empty string reference and an integer quantity >= 1"
            ));
        };
        if items.iter().any(|i| i.reference == r) {
            return Err(format!("items[{j}]: reference {r} is listed twice"));
        }
        items.push(Item {
            reference: r.to_string(),
            quantity: q,
            refunded: 0,
        });
    }
    Ok(Declared {
        store,
        id,
        reference,
        channel,
        items,
    })
}

/// `POST /_sandbox/orders`: one declaration, or `{"orders": [...]}`; all
/// are checked before any is recorded. The answer lists them as recorded.
pub fn declare_all(st: &mut State, v: &Value) -> Result<String, String> {
    let list: Vec<&Value> = match v.get("orders") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => return Err("orders must be an array of order declarations".into()),
        None => vec![v],
    };
    let many = v.get("orders").is_some();
    let parsed = list
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            parse(d, &st.cfg.store_ids)
                .map_err(|e| if many { format!("orders[{i}]: {e}") } else { e })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut shown = Vec::with_capacity(parsed.len());
    for d in parsed {
        let (store, key) = (d.store, d.key());
        shown.push(st.catalog.declare(d).json());
        // a declared order is listed by GET /v1/store/{id}/order
        st.orders.declare(store, &key);
    }
    Ok(json!({ "orders": shown }).to_string())
}

#[derive(Default)]
pub struct Catalog {
    list: Vec<Declared>,
    index: HashMap<(i64, OrderKey), usize>,
}

impl Catalog {
    /// Records `d`, replacing an order declared before under one of its
    /// keys (its refunds start again from zero).
    pub fn declare(&mut self, d: Declared) -> &Declared {
        let keys = d.keys();
        let old = keys
            .iter()
            .find_map(|k| self.index.get(&(d.store, k.clone())).copied());
        let i = match old {
            Some(i) => {
                self.index.retain(|_, v| *v != i);
                self.list[i] = d;
                i
            }
            None => {
                self.list.push(d);
                self.list.len() - 1
            }
        };
        let store = self.list[i].store;
        for k in keys {
            self.index.insert((store, k), i);
        }
        &self.list[i]
    }

    pub fn get(&self, store: i64, key: &OrderKey) -> Option<&Declared> {
        let i = *self.index.get(&(store, key.clone()))?;
        Some(&self.list[i])
    }

    pub fn all(&self) -> impl Iterator<Item = &Declared> {
        self.list.iter()
    }

    /// Checks a refund element's products against the declared order and,
    /// when it holds, counts them. None: the order is not declared.
    /// Empty products (a full refund) take whatever is left.
    pub fn refund(
        &mut self,
        store: i64,
        key: &OrderKey,
        name: &str,
        payload: &str,
    ) -> Option<Result<(), String>> {
        let i = *self.index.get(&(store, key.clone()))?;
        let d = &mut self.list[i];
        let el: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
        let products = el["refund"]["products"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if products.is_empty() {
            if d.fully_refunded() {
                return Some(Err(format!("Order {name}: nothing left to refund")));
            }
            for it in &mut d.items {
                it.refunded = it.quantity;
            }
            return Some(Ok(()));
        }
        // the same reference listed twice in one refund counts twice
        let mut asked: Vec<(&str, i64)> = Vec::new();
        for p in &products {
            let r = p["reference"].as_str().unwrap_or_default();
            let q = p["quantity"].as_i64().unwrap_or_default();
            match asked.iter_mut().find(|(a, _)| *a == r) {
                Some((_, n)) => *n = n.saturating_add(q),
                None => asked.push((r, q)),
            }
        }
        for &(r, q) in &asked {
            let Some(it) = d.items.iter().find(|i| i.reference == r) else {
                return Some(Err(format!(
                    "Order {name}: product {r} is not in the order"
                )));
            };
            if q < 1 {
                return Some(Err(format!(
                    "Order {name}: product {r}: refund quantity must be at least 1, got {q}"
                )));
            }
            let left = it.quantity - it.refunded;
            if q as u64 > left {
                return Some(Err(format!(
                    "Order {name}: product {r}: cannot refund {q}, {left} left to refund ({} ordered, {} already refunded)",
                    it.quantity, it.refunded
                )));
            }
        }
        for (r, q) in asked {
            if let Some(it) = d.items.iter_mut().find(|i| i.reference == r) {
                it.refunded += q as u64;
            }
        }
        Some(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund(products: Value) -> String {
        json!({"id": 1, "refund": {"shipping": false, "products": products}}).to_string()
    }

    #[test]
    fn refunds_are_checked_and_counted() {
        let mut c = Catalog::default();
        let d = parse(
            &json!({"id": 1, "items": [{"reference": "A", "quantity": 2}, {"reference": "B", "quantity": 1}]}),
            &[42],
        )
        .unwrap();
        c.declare(d);
        let k = OrderKey::Id(1);
        let one_a = refund(json!([{"reference": "A", "quantity": 1}]));
        assert_eq!(c.refund(42, &k, "1", &one_a), Some(Ok(())));
        assert_eq!(c.refund(42, &k, "1", &one_a), Some(Ok(())));
        let e = c.refund(42, &k, "1", &one_a).unwrap().unwrap_err();
        assert!(e.contains("product A") && e.contains("0 left"), "{e}");
        let e = c
            .refund(
                42,
                &k,
                "1",
                &refund(json!([{"reference": "Z", "quantity": 1}])),
            )
            .unwrap()
            .unwrap_err();
        assert!(e.contains("product Z is not in the order"), "{e}");
        // a failed refund takes nothing: B is still there, then all is gone
        assert_eq!(c.refund(42, &k, "1", &refund(json!([]))), Some(Ok(())));
        assert!(c.refund(42, &k, "1", &refund(json!([]))).unwrap().is_err());
        assert_eq!(c.refund(42, &OrderKey::Id(2), "2", &one_a), None);
        assert_eq!(c.refund(7, &k, "1", &one_a), None);
    }

    #[test]
    fn declarations_are_validated_and_replace_earlier_ones() {
        let bad = [
            json!({"items": [{"reference": "A", "quantity": 1}]}),
            json!({"id": 1, "items": []}),
            json!({"id": 1, "items": [{"reference": "A", "quantity": 0}]}),
            json!({"id": 1, "items": [{"reference": "A", "quantity": 1}, {"reference": "A", "quantity": 1}]}),
            json!({"id": 1, "store": 9, "items": [{"reference": "A", "quantity": 1}]}),
            json!({"id": 1, "colour": "red", "items": [{"reference": "A", "quantity": 1}]}),
        ];
        for b in bad {
            assert!(parse(&b, &[42]).is_err(), "{b}");
        }
        let mut c = Catalog::default();
        let v = json!({"reference": "R", "channelName": "amazon", "items": [{"reference": "A", "quantity": 1}]});
        c.declare(parse(&v, &[42]).unwrap());
        let k = OrderKey::Ref("R".into(), "amazon".into());
        assert!(c.refund(42, &k, "R", &refund(json!([]))).unwrap().is_ok());
        c.declare(parse(&v, &[42]).unwrap());
        assert_eq!(c.all().count(), 1);
        assert!(c.refund(42, &k, "R", &refund(json!([]))).unwrap().is_ok());
    }
}

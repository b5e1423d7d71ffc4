//! The orders the sandbox has seen: every order that got a ticket or was
//! declared (`POST /_sandbox/orders`, catalog.rs), per store, in the order
//! first seen. `GET /v1/store/{id}/order` lists them; the sandbox has no
//! catalogue beyond what tests declare, so it shows only what the
//! operations and declarations told it.

use std::collections::HashMap;

use crate::state::OrderKey;

pub struct SeenOrder {
    pub store: i64,
    pub key: OrderKey,
    /// Its tickets, oldest first.
    pub tickets: Vec<u32>,
}

#[derive(Default)]
pub struct OrderBook {
    list: Vec<SeenOrder>,
    index: HashMap<(i64, OrderKey), u32>,
}

impl OrderBook {
    /// Records ticket `ticket` for the order `key` of `store`.
    pub fn note(&mut self, store: i64, key: &OrderKey, ticket: u32) {
        self.entry(store, key).tickets.push(ticket);
    }

    /// Lists a declared order (no ticket yet) if it is not listed already.
    pub fn declare(&mut self, store: i64, key: &OrderKey) {
        self.entry(store, key);
    }

    fn entry(&mut self, store: i64, key: &OrderKey) -> &mut SeenOrder {
        let next = self.list.len() as u32;
        let i = *self.index.entry((store, key.clone())).or_insert(next);
        if i == next {
            self.list.push(SeenOrder {
                store,
                key: key.clone(),
                tickets: Vec::new(),
            });
        }
        &mut self.list[i as usize]
    }

    pub fn of_store(&self, store: i64) -> impl Iterator<Item = &SeenOrder> {
        self.list.iter().filter(move |o| o.store == store)
    }

    /// The order of `store` named by its internal id.
    pub fn by_id(&self, store: i64, id: i64) -> Option<&SeenOrder> {
        let i = *self.index.get(&(store, OrderKey::Id(id)))?;
        Some(&self.list[i as usize])
    }
}

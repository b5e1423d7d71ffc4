//! The orders the sandbox has seen: every order that got a ticket, per
//! store, in the order first seen. `GET /v1/store/{id}/order` lists them;
//! the sandbox keeps no catalogue of its own, so it shows only what the
//! operations told it (an order never operated on is not there).

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
        if let Some(&i) = self.index.get(&(store, key.clone())) {
            self.list[i as usize].tickets.push(ticket);
            return;
        }
        self.index
            .insert((store, key.clone()), self.list.len() as u32);
        self.list.push(SeenOrder {
            store,
            key: key.clone(),
            tickets: vec![ticket],
        });
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

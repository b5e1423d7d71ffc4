//! `checkTickets`: reads the tickets of claimed CHECK_TICKET rows and
//! settles each row by its ticket.

use super::super::convert::id;
use super::super::settings::PhpSettings;
use super::super::store;
use super::api::api_client;
use super::claim_cache::{rows_of, ClaimCache};
use super::conveyor::{claim_of, credentials, deadline_of, record};
use super::guard::guard;
use super::state::HasState;
use ext_php_rs::exception::PhpResult;
use sfsync_core::engine::{self, Mode, Target};
use sfsync_core::Error;

pub(super) fn check_tickets<T: HasState>(this: &mut T) -> PhpResult<bool> {
    guard("checkTickets", || {
        let (conveyor, cache) = this.state().parts();
        let (token, store_id) = credentials(conveyor)?;
        let deadline = deadline_of(conveyor)?;
        let claim = claim_of(conveyor)?;
        let id_shop = id(conveyor, "id_shop")?;
        let batch = conveyor
            .get("batch")
            .ok_or_else(|| Error::input("conveyor key 'batch' is missing: call getBatch first"))?;
        let store = store::current()?;
        let rows = rows_of(&*store, cache, claim.as_deref(), batch, "batch", true)?;
        let src = PhpSettings::new(conveyor, Some(id_shop))?;
        let client = api_client()?;
        let target = Target {
            token: &token,
            store_id,
            mode: Mode::Batch,
        };
        let result = match deadline {
            Some(deadline) => engine::check_until(
                &*store,
                &client,
                &src,
                target,
                &rows,
                claim.as_deref(),
                deadline,
            ),
            None => engine::check(&*store, &client, &src, target, &rows, claim.as_deref()),
        };
        drop(src);
        ClaimCache::forget(cache, rows.iter().map(|r| r.id));
        let report = result?;
        record(conveyor, &*store, &report)?;
        store::after_background_write(&*store);
        Ok(true)
    })
}

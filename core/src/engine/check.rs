//! `checkTickets`: read the tickets of the claimed sent rows by batch id
//! and commit what they say. See the contract's "Tickets".
//!
//! Reading stops at a deadline: the run's time budget when the caller gives
//! one ([`check_until`], or [`crate::api::with_deadline`] around
//! [`check`]), and always before the claim's lease ends. The rows of the
//! batches not read by then are released as they are (no attempt, no
//! message): the next run reads them.

use super::step::Step;
use super::target::Target;
use super::window::{with_rate_limit_waits, Window};
use super::Report;
use crate::api::{self, ApiError, Client, Ticket, TicketPage};
use crate::error::{Error, Result};
use crate::fasthash::HashMap;
use crate::model::{self, Identifier, Row};
use crate::queue::{Change, QueueStore};
use crate::retry::{self, RetryPolicy};
use crate::settings::{self, SettingsSource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Most ticket pages read for one batch. A batch holds at most 100
/// tickets: one page at 200 a page. This bounds a server announcing more
/// (the rows then miss their ticket and are sent again, see
/// [`RetryPolicy::ticket_change`]), with room for duplicates.
pub const MAX_TICKET_PAGES: u32 = 10;

/// The end of the lease kept free for the commits that follow the reads:
/// a fifth of `LEASE_TIME`, at most this.
const LEASE_MARGIN_MAX: Duration = Duration::from_secs(30);

/// What a batch's read gave.
enum BatchRead {
    /// Its tickets, and whether the API still processes some of them.
    Read(Vec<Ticket>, bool),
    Failed(ApiError),
    /// The deadline came first: nothing is known.
    OutOfTime,
}

/// [`check_until`] bounded by the claim's lease (and by the deadline of
/// [`api::with_deadline`], when the caller runs it inside one).
pub fn check(
    store: &dyn QueueStore,
    client: &Client,
    settings: &dyn SettingsSource,
    target: Target<'_>,
    rows: &[Row],
    claim: Option<&str>,
) -> Result<Report> {
    let far = Instant::now() + Duration::from_secs(i32::MAX as u64);
    check_until(store, client, settings, target, rows, claim, far)
}

/// `checkTickets`, reading until `deadline` at the latest (the run's time
/// budget): also never past the lease (`LEASE_TIME` from now, less a
/// margin) nor past [`api::current_deadline`].
pub fn check_until(
    store: &dyn QueueStore,
    client: &Client,
    settings: &dyn SettingsSource,
    target: Target<'_>,
    rows: &[Row],
    claim: Option<&str>,
    deadline: Instant,
) -> Result<Report> {
    let mut step = Step::new(store, claim);
    if rows.is_empty() {
        return Ok(step.report);
    }
    target.validate()?;
    let policy = RetryPolicy::read(settings)?;
    let lease = settings::lease_time(settings)?;
    let deadline = earliest(deadline, lease_deadline(Instant::now(), lease));

    let now = crate::time::now();
    let mut no_batch: Vec<(i64, Change)> = Vec::new();
    let mut batches: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        if !step.take(row.id) {
            continue;
        }
        match row.batch_id.as_deref().filter(|b| !b.is_empty()) {
            Some(b) => batches.entry(b.to_string()).or_default().push(row),
            None => {
                no_batch.push(policy.retry(row, now, "sent row without batch id".into(), false))
            }
        }
    }
    step.commit(&no_batch, now)?;
    if batches.is_empty() {
        return Ok(step.report);
    }

    // Every request of the reads gets at most the time left.
    let outcome = api::with_deadline(deadline, || {
        crate::runtime::block_on(read_all(
            &mut step, client, target, &policy, &batches, deadline,
        ))
    });
    step.finish(outcome)
}

fn earliest(deadline: Instant, lease_end: Instant) -> Instant {
    let mut end = deadline.min(lease_end);
    if let Some(run) = api::current_deadline() {
        end = end.min(run);
    }
    end
}

/// When reading must stop for a lease of `lease_secs` taken about `start`.
fn lease_deadline(start: Instant, lease_secs: i64) -> Instant {
    let lease = Duration::from_secs(lease_secs.max(0) as u64);
    start + lease - (lease / 5).min(LEASE_MARGIN_MAX)
}

/// Reads the batches, at most [`api::MAX_IN_FLIGHT`] at once, and commits
/// each set of answers that arrived together in one transaction (reading a
/// ticket changes nothing on the API, so an answer lost to a kill costs
/// only a second read).
async fn read_all(
    step: &mut Step<'_>,
    client: &Client,
    target: Target<'_>,
    policy: &RetryPolicy,
    batches: &BTreeMap<String, Vec<&Row>>,
    deadline: Instant,
) -> Result<()> {
    let ids: Vec<String> = batches.keys().cloned().collect();
    let mut window = Window::new(ids, |batch_id| {
        read_batch(client, target, batch_id, deadline)
    });
    let mut out_of_time = 0usize;
    while let Some(ready) = window.ready().await {
        let now = crate::time::now();
        let clean = |m: &str| target.clean(m);
        let mut changes: Vec<(i64, Change)> = Vec::new();
        let mut stop = None;
        for (batch_id, answer) in ready {
            let rows = batches.get(&batch_id).map(Vec::as_slice).unwrap_or(&[]);
            match answer {
                BatchRead::Read(tickets, processing) => {
                    let read = Read {
                        tickets: &tickets,
                        processing,
                        batch_id: &batch_id,
                    };
                    let (batch_changes, errors) = ticket_changes(policy, rows, &read, now, &clean);
                    changes.extend(batch_changes);
                    step.report.errors.extend(errors);
                }
                BatchRead::OutOfTime => {
                    out_of_time += 1;
                    changes.extend(retry::release(rows.iter().map(|r| r.id)));
                }
                BatchRead::Failed(ApiError::Unauthorized { status }) => {
                    stop = Some(target.refused(status))
                }
                BatchRead::Failed(err @ ApiError::UnknownStore { .. }) => {
                    stop = Some(Error::Api(target.clean(&err.message())))
                }
                BatchRead::Failed(err) => {
                    let failure = policy.read_failed(rows, &err, &batch_id, now, &clean);
                    step.report
                        .errors
                        .push(format!("tickets: {}", failure.error));
                    changes.extend(failure.changes);
                }
            }
        }
        step.commit(&changes, now)?;
        if let Some(err) = stop {
            return Err(err);
        }
    }
    if out_of_time > 0 {
        step.report.errors.push(format!(
            "tickets: out of time, {out_of_time} batch(es) not read: their rows are left for the next run"
        ));
    }
    Ok(())
}

/// Reads every page of a batch's tickets (at most [`MAX_TICKET_PAGES`]),
/// none started after `deadline`. A read that fails once the deadline has
/// passed was cut by it: out of time, not an outage.
async fn read_batch(
    client: &Client,
    target: Target<'_>,
    batch_id: String,
    deadline: Instant,
) -> (String, BatchRead) {
    let mut tickets = Vec::new();
    let mut processing = false;
    let mut page = 1u32;
    loop {
        if Instant::now() >= deadline {
            return (batch_id, BatchRead::OutOfTime);
        }
        match read_page(client, target, &batch_id, page).await {
            Ok(p) => {
                processing |= p.processing;
                let last = p.pages.clamp(1, MAX_TICKET_PAGES);
                tickets.extend(p.tickets);
                if page >= last {
                    return (batch_id, BatchRead::Read(tickets, processing));
                }
                page += 1;
            }
            Err(_) if Instant::now() >= deadline => return (batch_id, BatchRead::OutOfTime),
            Err(e) => return (batch_id, BatchRead::Failed(e)),
        }
    }
}

async fn read_page(
    client: &Client,
    target: Target<'_>,
    batch_id: &str,
    page: u32,
) -> std::result::Result<TicketPage, ApiError> {
    with_rate_limit_waits(target.mode, &client.pace(target.token), || {
        client.ticket_page(target.token, target.store_id, batch_id, page)
    })
    .await
}

/// One batch's read.
struct Read<'a> {
    tickets: &'a [Ticket],
    processing: bool,
    batch_id: &'a str,
}

/// The changes of the rows of one batch whose tickets were read, and the
/// lines for `errors` (tickets in states this client does not know): each
/// row matched to its ticket ([`TicketIndex`]), the ticket id recorded,
/// the ticket's state decided by the policy.
fn ticket_changes(
    policy: &RetryPolicy,
    rows: &[&Row],
    read: &Read<'_>,
    now: i64,
    clean: &dyn Fn(&str) -> String,
) -> (Vec<(i64, Change)>, Vec<String>) {
    let index = TicketIndex::new(read.tickets, read.batch_id);
    let mut changes = Vec::new();
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        let ticket = index.of(row);
        if let Some(t) = ticket.filter(|t| !t.id.is_empty()) {
            changes.push((row.id, Change::SetTicket(t.id.clone())));
        }
        if let Some(t) = ticket.filter(|t| !retry::known_ticket_state(&t.state)) {
            *unknown.entry(t.state.as_str()).or_default() += 1;
        }
        let change = policy.ticket_change(*row, ticket, read.processing, read.batch_id, now, clean);
        changes.push((row.id, change));
    }
    let errors = unknown
        .into_iter()
        .map(|(state, n)| {
            clean(&format!(
                "tickets: batch {}: state {} unknown to this client ({n} ticket(s), read again later)",
                read.batch_id,
                crate::text::excerpt(state)
            ))
        })
        .collect();
    (changes, errors)
}

/// The tickets of one batch by what names an order in them.
///
/// - Tickets naming another batch (`batchId`) are left out: they say
///   nothing about this send.
/// - A row is matched by what identifies its order, as it was sent: its
///   internal id; else its reference **and** channel (two marketplaces may
///   use one reference), a ticket whose payload gives no channel matching
///   any channel, as for the `ignored` report.
/// - Of two tickets naming one order, the newest counts: the latest
///   `scheduledAt` (the API doc's ticket dates), the later in the listing
///   when the dates are equal or missing (the API lists tickets in the
///   order they were made, and dates have second precision).
struct TicketIndex<'t> {
    by_id: HashMap<i64, (Newness, &'t Ticket)>,
    by_ref: HashMap<&'t str, Vec<(Newness, &'t Ticket)>>,
}

/// How new a ticket is: its date, then its place in the listing.
type Newness = (i64, usize);

impl<'t> TicketIndex<'t> {
    fn new(tickets: &'t [Ticket], batch_id: &str) -> Self {
        let mut index = TicketIndex {
            by_id: HashMap::default(),
            by_ref: HashMap::default(),
        };
        let ours = tickets.iter().filter(|t| t.batch_id == batch_id);
        for (place, t) in ours.enumerate() {
            let newness = (t.scheduled_at.unwrap_or(i64::MIN), place);
            if let Some(id) = t.payload.get("id").and_then(model::positive_id) {
                let slot = index.by_id.entry(id).or_insert((newness, t));
                if newness >= slot.0 {
                    *slot = (newness, t);
                }
            }
            if let Some(r) = text_field(&t.payload, "reference") {
                index.by_ref.entry(r).or_default().push((newness, t));
            }
        }
        index
    }

    /// The newest ticket naming the row's order.
    fn of(&self, row: &Row) -> Option<&'t Ticket> {
        match model::identifier(&row.payload).ok()? {
            Identifier::Internal(id) => self.by_id.get(&id).map(|(_, t)| *t),
            Identifier::Reference { reference, channel } => self
                .by_ref
                .get(reference.as_str())?
                .iter()
                .filter(|(_, t)| {
                    model::same_channel(text_field(&t.payload, "channelName"), Some(&channel))
                })
                .max_by_key(|(newness, _)| *newness)
                .map(|(_, t)| *t),
        }
    }
}

/// A non-empty string field of a ticket payload.
fn text_field<'v>(payload: &'v Value, key: &str) -> Option<&'v str> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;
    use serde_json::json;

    fn row(id: i64, payload: Value) -> Row {
        Row {
            batch_id: Some("b1".into()),
            ..Row::for_test(id, "CHECK_TICKET_SYNC_STATUS", State::Sent, payload)
        }
    }

    fn ticket(id: &str, batch: &str, state: &str, payload: Value, at: Option<i64>) -> Ticket {
        Ticket {
            id: id.into(),
            batch_id: batch.into(),
            state: state.into(),
            payload,
            message: None,
            scheduled_at: at,
        }
    }

    #[test]
    fn tickets_are_matched_by_reference_and_channel() {
        let tickets = [
            ticket(
                "t1",
                "b1",
                "failed",
                json!({"reference": "ABC", "channelName": "amazon"}),
                None,
            ),
            ticket(
                "t2",
                "b1",
                "succeed",
                json!({"reference": "ABC", "channelName": "cdiscount"}),
                None,
            ),
        ];
        let index = TicketIndex::new(&tickets, "b1");
        let amazon = row(1, json!({"reference": "ABC", "marketplace": "Amazon"}));
        let cdiscount = row(2, json!({"reference": "ABC", "marketplace": "cdiscount"}));
        let fnac = row(3, json!({"reference": "ABC", "marketplace": "fnac"}));
        assert_eq!(index.of(&amazon).map(|t| t.id.as_str()), Some("t1"));
        assert_eq!(index.of(&cdiscount).map(|t| t.id.as_str()), Some("t2"));
        assert_eq!(index.of(&fnac).map(|t| t.id.as_str()), None);
        // A payload without a channel matches the reference alone.
        let bare = [ticket(
            "t3",
            "b1",
            "succeed",
            json!({"reference": "ABC"}),
            None,
        )];
        let index = TicketIndex::new(&bare, "b1");
        assert_eq!(index.of(&fnac).map(|t| t.id.as_str()), Some("t3"));
    }

    #[test]
    fn the_newest_ticket_of_this_batch_wins() {
        let id7 = || json!({"id": 7});
        let tickets = [
            ticket("foreign", "b0", "succeed", id7(), Some(200)),
            ticket("old", "b1", "failed", id7(), Some(99)),
            ticket("new", "b1", "succeed", id7(), Some(100)),
            ticket("older", "b1", "failed", id7(), Some(98)),
        ];
        let index = TicketIndex::new(&tickets, "b1");
        let r = row(1, json!({"id_internal_shoppingfeed": 7}));
        assert_eq!(index.of(&r).map(|t| t.id.as_str()), Some("new"));
        // Equal or missing dates: the later in the listing.
        let tickets = [
            ticket("first", "b1", "failed", id7(), Some(100)),
            ticket("second", "b1", "succeed", id7(), Some(100)),
        ];
        let index = TicketIndex::new(&tickets, "b1");
        assert_eq!(index.of(&r).map(|t| t.id.as_str()), Some("second"));
        let tickets = [
            ticket("first", "b1", "failed", id7(), None),
            ticket("second", "b1", "running", id7(), None),
        ];
        let index = TicketIndex::new(&tickets, "b1");
        assert_eq!(index.of(&r).map(|t| t.id.as_str()), Some("second"));
        // Only another batch's ticket: none.
        let tickets = [ticket("foreign", "b0", "succeed", id7(), None)];
        assert!(TicketIndex::new(&tickets, "b1").of(&r).is_none());
    }

    #[test]
    fn the_lease_bounds_the_reads() {
        let start = Instant::now();
        assert_eq!(lease_deadline(start, 300), start + Duration::from_secs(270));
        assert_eq!(lease_deadline(start, 10), start + Duration::from_secs(8));
        assert_eq!(
            lease_deadline(start, 86_400),
            start + Duration::from_secs(86_370)
        );
    }
}

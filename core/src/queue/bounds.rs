//! How far ahead a lease or a due time can believably be: the bounds both
//! stores use to spot times written while a clock ran ahead (see
//! [`QueueStore::claim`](super::QueueStore::claim) and docs/STATE-MACHINE.md,
//! "Clock steps"). A time further ahead than any setting can put it is not
//! believed: the lease is over, the row is due.

/// What the clocks of two writers of one queue may differ by (the same
/// host, or hosts kept by NTP), added to both bounds.
pub const CLOCK_MARGIN_SECS: i64 = 60;

/// A live lease never ends further ahead than this: `LEASE_TIME`'s maximum
/// (`settings::lease_time`, 86 400 s) and [`CLOCK_MARGIN_SECS`].
pub const MAX_LEASE_AHEAD_SECS: i64 = 86_400 + CLOCK_MARGIN_SECS;

/// A row is never due further ahead than this: the larger of `TIME_SHIFT`'s
/// maximum (`settings::time_shift_minutes`, 10 080 min = 604 800 s) and the
/// retry cap (`retry::MAX_RETRY_DELAY_SECS`, 3600 s), and
/// [`CLOCK_MARGIN_SECS`].
pub const MAX_DUE_AHEAD_SECS: i64 = 604_800 + CLOCK_MARGIN_SECS;

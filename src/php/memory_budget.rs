//! How many queue rows one `getBatch` may hand to PHP: what the process's
//! `memory_limit` leaves, not only what `SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS`
//! asks. A claimed row becomes a PHP array of 15 keys plus its snapshot:
//! 60,000 rows of a typical status snapshot peak at 142 MB (2.4 KB a row,
//! measured here; larger snapshots cost more), so a large batch at PHP's
//! default `memory_limit=128M` would commit its claim and then die
//! converting it, run after run.

use super::ini;

extern "C" {
    /// PHP's allocator: bytes in use by this request (ZEND_API).
    fn zend_memory_usage(real_usage: bool) -> usize;
}

/// Bytes of PHP memory budgeted per claimed row: the measured 2.4 KB with
/// room for larger snapshots (at 128M: some 5,000 rows a batch, far above
/// the default batch of 100).
pub const BYTES_PER_ROW: u64 = 8 * 1024;

/// The share of the memory left that one batch may take: the steps after
/// `getBatch` (operations, the report lists, the caller's own work) need
/// room too.
const SHARE_OF_FREE: u64 = 3; // a third

/// The most rows one claim may hand to PHP now, or None when PHP has no
/// memory limit (`memory_limit=-1`) or it cannot be read.
pub fn max_rows() -> Option<i64> {
    let limit = parse_bytes(&ini::get("memory_limit")?)?;
    // SAFETY: a read of the allocator's counter, on the PHP thread.
    let used = unsafe { zend_memory_usage(false) } as u64;
    let free = limit.saturating_sub(used);
    Some(
        i64::try_from(free / SHARE_OF_FREE / BYTES_PER_ROW)
            .unwrap_or(i64::MAX)
            .max(1),
    )
}

/// PHP's shorthand bytes (`128M`, `1G`, `512K`, `-1`): None for "no limit"
/// or a value PHP itself would not take as a limit.
fn parse_bytes(value: &str) -> Option<u64> {
    let v = value.trim();
    let (digits, unit) = match v.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&v[..i], c.to_ascii_lowercase()),
        _ => (v, ' '),
    };
    let n: i64 = digits.trim().parse().ok()?;
    if n <= 0 {
        return None;
    }
    let mult: u64 = match unit {
        'g' => 1 << 30,
        'm' => 1 << 20,
        'k' => 1 << 10,
        ' ' => 1,
        _ => return None,
    };
    (n as u64).checked_mul(mult)
}

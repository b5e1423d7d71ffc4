//! What the binding checks about a SQLite queue path: that it names one
//! file every process agrees on (refused: `:memory:`, relative paths,
//! `file:` URIs), which file it names now (device and inode), and why an
//! open failed when the process ran out of descriptors.

use super::ini::DATABASE;
use sfsync_core::Error;
use std::os::unix::fs::MetadataExt;

/// A file's identity: a path names the same file while these hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The file `path` names now (symlinks followed); none when it is gone.
    /// One `stat`: ~1 µs, next to a save's ~50 µs transaction.
    pub fn of(path: &str) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// Refuses the values that would lose updates silently (issue 8, defect 8):
/// `:memory:` (dies with the process, one per process), a relative path
/// (resolved against each process's working directory: the web server and
/// the cron would use two files), a `file:` URI (SQLite would read its
/// parameters, `mode=memory` among them).
pub fn check_path(database: &str) -> Result<(), Error> {
    let use_instead = "use an absolute path to a file both the web server and the cron can \
                       write, e.g. /var/lib/shoppingfeed_sync/queue.sqlite (see docs/INI.md)";
    let shown = sfsync_core::text::excerpt(database);
    let why = if database.starts_with(':') {
        "an in-memory queue dies with the process and is not shared with the cron"
    } else if database.len() >= 5 && database[..5].eq_ignore_ascii_case("file:") {
        "SQLite URIs are not accepted (their parameters can make the queue temporary)"
    } else if !database.starts_with('/') {
        "a relative path is resolved against each process's working directory, so the web \
         server and the cron would use two different files"
    } else {
        return Ok(());
    };
    Err(Error::storage(format!(
        "{DATABASE} {shown} is refused: {why}; {use_instead}"
    )))
}

extern "C" {
    fn getrlimit(resource: std::ffi::c_int, rlim: *mut [u64; 2]) -> std::ffi::c_int;
}

/// Linux's RLIMIT_NOFILE.
const RLIMIT_NOFILE: std::ffi::c_int = 7;

/// When the process cannot open one more file (EMFILE/ENFILE), the cause
/// in words, with the limit; none otherwise. Probed by opening /dev/null,
/// since SQLite reports only "unable to open database file".
pub fn descriptor_limit_note() -> Option<String> {
    let err = std::fs::File::open("/dev/null").err()?;
    let code = err.raw_os_error()?;
    if code != 24 && code != 23 {
        return None;
    }
    let mut lim = [0u64; 2];
    // SAFETY: `lim` is the two-word `struct rlimit` the call fills.
    let soft = if unsafe { getrlimit(RLIMIT_NOFILE, &mut lim) } == 0 {
        lim[0].to_string()
    } else {
        "unknown".to_string()
    };
    let name = if code == 24 { "EMFILE" } else { "ENFILE" };
    Some(format!(
        "too many open files ({name}): the process reached its descriptor limit \
         (RLIMIT_NOFILE, ulimit -n = {soft}); each open queue keeps 3 descriptors and at most \
         {} are kept per process: raise the limit (PHP-FPM: rlimit_files) or close descriptors",
        super::store::MAX_OPEN_QUEUES
    ))
}

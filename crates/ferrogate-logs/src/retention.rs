//! Deleting chunks: with their stream or group, and when a group's retention has passed
//! over them (maintenance).
//!
//! Retention works on whole chunks: a chunk goes once its newest event has expired. Until
//! then its older events are still stored, but no read returns an event older than the
//! retention ([`crate::ops`] filters them), as AWS's "events … are deleted" promises the
//! reader.

use ferrogate_store::engine::prefix_end;
use ferrogate_store::{Direction, WriteTx};

use crate::chunk::Header;
use crate::model::{keys, tables, LogGroup};
use crate::LogsError;

/// Headers read per step, so that a large group is deleted without holding its chunks'
/// bodies in memory.
const STEP: usize = 512;

/// Deletes the chunks of the group `id` (of one stream, when named) whose header `expired`
/// says so; the bytes freed.
fn delete_where(
    tx: &mut dyn WriteTx,
    id: &str,
    stream: Option<&str>,
    expired: impl Fn(&Header) -> bool,
) -> Result<i64, LogsError> {
    let prefix = match stream {
        Some(s) => keys::stream(id, s),
        None => keys::in_group(id),
    };
    let end = prefix_end(&prefix);
    let mut start = prefix.clone();
    let mut freed = 0i64;
    loop {
        let batch = tx.range(tables::HEADERS, &start, end.as_deref(), Direction::Forward, STEP)?;
        let Some((last, _)) = batch.last() else { break };
        start = last.clone();
        start.push(0);
        for (k, v) in &batch {
            let h = Header::decode(v)?;
            if expired(&h) {
                tx.delete(tables::CHUNKS, k)?;
                tx.delete(tables::HEADERS, k)?;
                freed += i64::from(h.stored);
            }
        }
        if batch.len() < STEP {
            break;
        }
    }
    Ok(freed)
}

/// Deletes every chunk of the group `id`, or of one of its streams; the bytes freed.
pub fn delete_chunks(tx: &mut dyn WriteTx, id: &str, stream: Option<&str>) -> Result<i64, LogsError> {
    delete_where(tx, id, stream, |_| true)
}

/// What one maintenance pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// Groups that lost chunks.
    pub groups: usize,
    /// Bytes freed.
    pub bytes: i64,
}

/// Deletes every chunk whose events have all outlived their group's retention at
/// `now_ms`, and lowers the groups' `storedBytes`.
pub fn maintain(tx: &mut dyn WriteTx, now_ms: i64) -> Result<Expired, LogsError> {
    let mut out = Expired::default();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch = tables::GROUPS.scan(&*tx, &[], after.as_deref(), Direction::Forward, 256)?;
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        for (k, mut g) in batch {
            let Some(cutoff) = g.expired_before(now_ms) else {
                continue;
            };
            let freed = delete_where(tx, &g.id, None, |h| h.max_ts < cutoff)?;
            if freed > 0 {
                g.stored_bytes = (g.stored_bytes - freed).max(0);
                tables::GROUPS.put(tx, &k, &g)?;
                out.groups += 1;
                out.bytes += freed;
            }
        }
    }
    Ok(out)
}

/// True when an event at `ts` is still kept by `g` at `now_ms`.
pub fn kept(g: &LogGroup, ts: i64, now_ms: i64) -> bool {
    g.expired_before(now_ms).is_none_or(|cutoff| ts >= cutoff)
}

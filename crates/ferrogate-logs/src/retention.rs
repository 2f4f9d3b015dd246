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
use crate::model::{keys, tables};
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
        let batch = crate::scan::header_batch(&*tx, &mut start, end.as_deref(), STEP)?;
        if batch.is_empty() {
            break;
        }
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
pub fn delete_chunks(
    tx: &mut dyn WriteTx,
    id: &str,
    stream: Option<&str>,
) -> Result<i64, LogsError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk;
    use crate::model::{GroupKey, LogGroup};
    use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
    use ferrogate_store::Store;

    const DAY: i64 = 86_400_000;

    fn group(id: &str, retention: Option<i32>) -> LogGroup {
        LogGroup {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            name: format!("g-{id}"),
            id: id.into(),
            creation_time: 0,
            retention_in_days: retention,
            kms_key_arn: None,
            keys: Vec::<GroupKey>::new(),
            tags: Default::default(),
            stored_bytes: 0,
            next_seq: 1,
            log_group_class: "STANDARD".into(),
        }
    }

    /// Stores `g` with one real chunk per `(stream, seq, newest timestamp)`.
    fn store_group(tx: &mut dyn WriteTx, mut g: LogGroup, chunks: &[(&str, i64, i64)]) {
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[3; 32]).unwrap());
        for (stream, seq, ts) in chunks {
            let key = keys::chunk(&g.id, stream, *seq);
            let (h, body) =
                chunk::seal(&k, 0, &key, &[(ts - 1, "older"), (*ts, "newest")], 0).unwrap();
            tx.put(tables::CHUNKS, &key, &body).unwrap();
            tx.put(tables::HEADERS, &key, &h.encode()).unwrap();
            g.stored_bytes += i64::from(h.stored);
        }
        tables::GROUPS
            .put(tx, &keys::group(&g.account, &g.region, &g.name), &g)
            .unwrap();
    }

    fn headers(tx: &dyn ferrogate_store::ReadTx, id: &str) -> Vec<Vec<u8>> {
        let p = keys::in_group(id);
        tx.range(
            tables::HEADERS,
            &p,
            prefix_end(&p).as_deref(),
            Direction::Forward,
            100,
        )
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
    }

    #[tokio::test]
    async fn maintenance_deletes_expired_chunks_in_the_real_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let now = 100 * DAY;
        store
            .write(move |tx| {
                store_group(
                    tx,
                    group("a", Some(1)),
                    &[
                        ("s", 1, now - 3 * DAY),
                        ("s", 2, now - 2 * DAY),
                        ("t", 3, now),
                    ],
                );
                store_group(tx, group("b", None), &[("s", 1, now - 50 * DAY)]);
                Ok::<_, ferrogate_store::StoreError>(())
            })
            .await
            .unwrap();
        let before = store
            .read(|tx| {
                Ok::<_, LogsError>(
                    tables::GROUPS
                        .get(tx, &keys::group("111122223333", "us-east-1", "g-a"))?
                        .unwrap()
                        .stored_bytes,
                )
            })
            .unwrap();
        let expired = store.write(move |tx| maintain(tx, now)).await.unwrap();
        assert_eq!(expired.groups, 1);
        assert!(expired.bytes > 0);
        store
            .read(|tx| {
                let left = headers(tx, "a");
                assert_eq!(left, vec![keys::chunk("a", "t", 3)]);
                assert!(tx.get(tables::CHUNKS, &keys::chunk("a", "s", 1))?.is_none());
                assert_eq!(headers(tx, "b").len(), 1, "no retention: kept");
                let g = tables::GROUPS
                    .get(tx, &keys::group("111122223333", "us-east-1", "g-a"))?
                    .unwrap();
                assert_eq!(g.stored_bytes, before - expired.bytes);
                Ok::<_, LogsError>(())
            })
            .unwrap();
        // Nothing more to do on a second pass; deleting a stream and a group's chunks.
        let again = store.write(move |tx| maintain(tx, now)).await.unwrap();
        assert_eq!(again, Expired::default());
        let freed = store
            .write(|tx| delete_chunks(tx, "b", Some("s")))
            .await
            .unwrap();
        assert!(freed > 0);
        store
            .read(|tx| {
                assert!(headers(tx, "b").is_empty());
                Ok::<_, LogsError>(())
            })
            .unwrap();
    }
}

//! Reading events in order: chunks selected by their clear headers, opened one at a time,
//! and merged by (timestamp, chunk, index), forwards or backwards, up to a count and a size.
//!
//! A chunk is opened only once every event that sorts before its earliest one has been
//! emitted: when batches arrive in time order (the usual case) one chunk is open at a time,
//! whatever the stream's size; when they overlap in time, the overlapping ones are merged.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use ferrogate_store::engine::prefix_end;
use ferrogate_store::{Direction, ReadTx};
use zeroize::Zeroizing;

use crate::chunk::{Events, Header};
use crate::model::{keys, tables};
use crate::pattern::Pattern;
use crate::LogsError;

/// An event's place in a group: (timestamp, chunk sequence, index in the chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// The timestamp.
    pub ts: i64,
    /// The chunk's group-wide sequence number.
    pub seq: i64,
    /// The index within the chunk.
    pub idx: u32,
}

impl Pos {
    /// Before every event.
    pub const START: Pos = Pos {
        ts: i64::MIN,
        seq: i64::MIN,
        idx: 0,
    };
    /// After every event.
    pub const END: Pos = Pos {
        ts: i64::MAX,
        seq: i64::MAX,
        idx: u32::MAX,
    };

    /// 50 digits: an event id, and the body of paging tokens.
    pub fn digits(&self) -> String {
        let flip = |v: i64| u64::from_be_bytes(v.to_be_bytes()) ^ (1 << 63);
        format!(
            "{:020}{:020}{:010}",
            flip(self.ts),
            flip(self.seq),
            self.idx
        )
    }

    /// The position [`Pos::digits`] wrote.
    pub fn parse(d: &str) -> Option<Pos> {
        if d.len() != 50 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let unflip = |v: u64| i64::from_be_bytes((v ^ (1 << 63)).to_be_bytes());
        let ts = unflip(d[..20].parse().ok()?);
        let seq = unflip(d[20..40].parse().ok()?);
        let idx = d[40..].parse().ok()?;
        Some(Pos { ts, seq, idx })
    }
}

/// A chunk, by its header.
#[derive(Debug, Clone)]
pub struct ChunkRef {
    /// Its store key.
    pub key: Vec<u8>,
    /// Its stream.
    pub stream: Arc<str>,
    /// Its sequence number.
    pub seq: i64,
    /// Its header.
    pub header: Header,
}

/// One event read.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its position.
    pub pos: Pos,
    /// When its chunk was accepted.
    pub ingestion: i64,
    /// Its stream.
    pub stream: Arc<str>,
    /// Its message.
    pub message: String,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.pos == o.pos
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    fn cmp(&self, o: &Self) -> Ordering {
        self.pos.cmp(&o.pos)
    }
}

/// The next `step` chunk headers from `start` up to `end`; `start` moves past them.
pub(crate) fn header_batch(
    tx: &dyn ReadTx,
    start: &mut Vec<u8>,
    end: Option<&[u8]>,
    step: usize,
) -> Result<ferrogate_store::engine::Entries, LogsError> {
    let batch = tx.range(tables::HEADERS, start, end, Direction::Forward, step)?;
    if let Some((last, _)) = batch.last() {
        start.clone_from(last);
        start.push(0);
    }
    Ok(batch)
}

/// The chunks of the group `id` (of one stream when named) whose stream `wanted` accepts.
pub fn chunks(
    tx: &dyn ReadTx,
    id: &str,
    stream: Option<&str>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<ChunkRef>, LogsError> {
    let group_prefix = keys::in_group(id).len();
    let prefix = match stream {
        Some(s) => keys::stream(id, s),
        None => keys::in_group(id),
    };
    let end = prefix_end(&prefix);
    let mut start = prefix.clone();
    let mut out = Vec::new();
    let mut last_stream: Option<Arc<str>> = None;
    loop {
        let batch = header_batch(tx, &mut start, end.as_deref(), 4096)?;
        if batch.is_empty() {
            break;
        }
        let full = batch.len() == 4096;
        for (k, v) in batch {
            let (name, seq) = keys::split_chunk(&k, group_prefix)
                .ok_or(LogsError::Crypto("a chunk key is malformed"))?;
            let stream = match &last_stream {
                Some(s) if **s == *name => s.clone(),
                _ => {
                    let s: Arc<str> = name.into();
                    last_stream = Some(s.clone());
                    s
                }
            };
            if wanted(&stream) {
                out.push(ChunkRef {
                    key: k,
                    stream,
                    seq,
                    header: Header::decode(&v)?,
                });
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}

/// What to read.
pub struct Query<'a> {
    /// The earliest timestamp (inclusive).
    pub from: i64,
    /// The latest timestamp (exclusive).
    pub to: i64,
    /// Forwards: events after `bound`; backwards: events before it.
    pub forward: bool,
    /// The position read from (exclusive).
    pub bound: Pos,
    /// The most events.
    pub limit: usize,
    /// The most message bytes.
    pub max_bytes: usize,
    /// Which messages.
    pub pattern: &'a Pattern,
}

/// The events `q` selects, in ascending order, and whether more remain.
pub fn read(
    chunks: Vec<ChunkRef>,
    q: &Query<'_>,
    mut open: impl FnMut(&ChunkRef) -> Result<Zeroizing<Vec<u8>>, LogsError>,
) -> Result<(Vec<Event>, bool), LogsError> {
    let mut cs: Vec<ChunkRef> = chunks
        .into_iter()
        .filter(|c| {
            let h = &c.header;
            h.max_ts >= q.from
                && h.min_ts < q.to
                && if q.forward {
                    h.max_ts >= q.bound.ts
                } else {
                    h.min_ts <= q.bound.ts
                }
        })
        .collect();
    if q.forward {
        cs.sort_by_key(|c| (c.header.min_ts, c.seq));
    } else {
        cs.sort_by_key(|c| Reverse((c.header.max_ts, c.seq)));
    }
    let mut out = Out {
        events: Vec::new(),
        bytes: 0,
        limit: q.limit,
        max_bytes: q.max_bytes,
    };
    // Forwards, the heap pops the smallest position (`Reverse`); backwards the largest.
    let mut ahead: BinaryHeap<Reverse<Event>> = BinaryHeap::new();
    let mut behind: BinaryHeap<Event> = BinaryHeap::new();
    for c in &cs {
        let ready = |e: &Event| {
            if q.forward {
                e.pos.ts < c.header.min_ts
            } else {
                e.pos.ts > c.header.max_ts
            }
        };
        if q.forward {
            while ahead.peek().is_some_and(|Reverse(e)| ready(e)) {
                let Some(Reverse(e)) = ahead.pop() else { break };
                if !out.push(e) {
                    return Ok(out.done(q.forward, true));
                }
            }
        } else {
            while behind.peek().is_some_and(ready) {
                let Some(e) = behind.pop() else { break };
                if !out.push(e) {
                    return Ok(out.done(q.forward, true));
                }
            }
        }
        let plain = open(c)?;
        for e in Events::new(&plain) {
            let (idx, ts, msg) = e?;
            let pos = Pos {
                ts,
                seq: c.seq,
                idx,
            };
            let beyond = if q.forward {
                pos > q.bound
            } else {
                pos < q.bound
            };
            if !beyond || ts < q.from || ts >= q.to || !q.pattern.matches(msg) {
                continue;
            }
            let message = std::str::from_utf8(msg)
                .map_err(|_| LogsError::Crypto("a message is not UTF-8"))?
                .to_owned();
            let ev = Event {
                pos,
                ingestion: c.header.ingestion_time,
                stream: c.stream.clone(),
                message,
            };
            if q.forward {
                ahead.push(Reverse(ev));
            } else {
                behind.push(ev);
            }
        }
    }
    loop {
        let next = if q.forward {
            ahead.pop().map(|Reverse(e)| e)
        } else {
            behind.pop()
        };
        let Some(e) = next else { break };
        if !out.push(e) {
            return Ok(out.done(q.forward, true));
        }
    }
    Ok(out.done(q.forward, false))
}

struct Out {
    events: Vec<Event>,
    bytes: usize,
    limit: usize,
    max_bytes: usize,
}

impl Out {
    /// Takes `e`; false (and `e` dropped) when the page is full.
    fn push(&mut self, e: Event) -> bool {
        if self.events.len() >= self.limit || self.bytes + e.message.len() > self.max_bytes {
            return false;
        }
        self.bytes += e.message.len();
        self.events.push(e);
        true
    }

    fn done(mut self, forward: bool, more: bool) -> (Vec<Event>, bool) {
        if !forward {
            self.events.reverse();
        }
        (self.events, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk;
    use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};

    /// (stream, sequence, events) of one chunk.
    type Spec<'a> = (&'a str, i64, Vec<(i64, String)>);

    fn key() -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9; 32]).unwrap())
    }

    /// Chunks of (stream, seq, events), sealed for real.
    fn sealed(specs: &[Spec<'_>]) -> (Vec<ChunkRef>, Vec<Vec<u8>>) {
        let k = key();
        let mut refs = Vec::new();
        let mut bodies = Vec::new();
        for (stream, seq, evs) in specs {
            let store_key = keys::chunk("g", stream, *seq);
            let evs: Vec<(i64, &str)> = evs.iter().map(|(t, m)| (*t, m.as_str())).collect();
            let (header, body) = chunk::seal(&k, 0, &store_key, &evs, 1).unwrap();
            refs.push(ChunkRef {
                key: store_key,
                stream: (*stream).into(),
                seq: *seq,
                header,
            });
            bodies.push(body);
        }
        (refs, bodies)
    }

    fn run(
        refs: &[ChunkRef],
        bodies: &[Vec<u8>],
        forward: bool,
        bound: Pos,
        limit: usize,
        pattern: &str,
    ) -> (Vec<(i64, String)>, bool) {
        let p = Pattern::parse(pattern).unwrap();
        let q = Query {
            from: i64::MIN,
            to: i64::MAX,
            forward,
            bound,
            limit,
            max_bytes: 1 << 20,
            pattern: &p,
        };
        let k = key();
        let (evs, more) = read(refs.to_vec(), &q, |c| {
            let i = refs.iter().position(|r| r.key == c.key).unwrap();
            chunk::open(&k, &c.key, &c.header, &bodies[i])
        })
        .unwrap();
        (
            evs.into_iter().map(|e| (e.pos.ts, e.message)).collect(),
            more,
        )
    }

    fn evs(list: &[(i64, &str)]) -> Vec<(i64, String)> {
        list.iter().map(|(t, m)| (*t, (*m).to_owned())).collect()
    }

    #[test]
    fn merges_overlapping_chunks_in_time_order() {
        let (refs, bodies) = sealed(&[
            ("a", 1, evs(&[(10, "a10"), (30, "a30")])),
            ("b", 2, evs(&[(5, "b5"), (20, "b20"), (40, "b40")])),
            ("a", 3, evs(&[(50, "a50")])),
        ]);
        let (all, more) = run(&refs, &bodies, true, Pos::START, 100, "");
        let ts: Vec<i64> = all.iter().map(|e| e.0).collect();
        assert_eq!(ts, [5, 10, 20, 30, 40, 50]);
        assert!(!more);
        let (page, more) = run(&refs, &bodies, true, Pos::START, 2, "");
        assert_eq!(page, evs(&[(5, "b5"), (10, "a10")]));
        assert!(more);
        let (last, more) = run(&refs, &bodies, false, Pos::END, 2, "");
        assert_eq!(last, evs(&[(40, "b40"), (50, "a50")]));
        assert!(more);
        let (filtered, _) = run(&refs, &bodies, true, Pos::START, 100, "?a30 ?b40");
        assert_eq!(filtered, evs(&[(30, "a30"), (40, "b40")]));
    }

    #[test]
    fn pages_cover_every_event_once() {
        let specs: Vec<Spec<'_>> = (0..6)
            .map(|c| {
                let s = if c % 2 == 0 { "x" } else { "y" };
                let e = (0..5).map(|i| (i * 3 + c, format!("c{c}i{i}"))).collect();
                (s, c + 1, e)
            })
            .collect();
        let (refs, bodies) = sealed(&specs);
        let p = Pattern::parse("").unwrap();
        let k = key();
        for forward in [true, false] {
            let mut bound = if forward { Pos::START } else { Pos::END };
            let mut seen = Vec::new();
            loop {
                let q = Query {
                    from: i64::MIN,
                    to: i64::MAX,
                    forward,
                    bound,
                    limit: 4,
                    max_bytes: 1 << 20,
                    pattern: &p,
                };
                let (page, more) = read(refs.clone(), &q, |c| {
                    let i = refs.iter().position(|r| r.key == c.key).unwrap();
                    chunk::open(&k, &c.key, &c.header, &bodies[i])
                })
                .unwrap();
                if page.is_empty() {
                    break;
                }
                bound = if forward {
                    page.last().unwrap().pos
                } else {
                    page[0].pos
                };
                seen.extend(page.into_iter().map(|e| e.pos));
                if !more {
                    break;
                }
            }
            assert_eq!(seen.len(), 30, "forward={forward}");
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 30);
        }
    }

    #[test]
    fn positions_round_trip() {
        for p in [
            Pos::START,
            Pos::END,
            Pos {
                ts: 0,
                seq: 1,
                idx: 0,
            },
            Pos {
                ts: 1_700_000_000_000,
                seq: 123_456,
                idx: 9_999,
            },
        ] {
            assert_eq!(Pos::parse(&p.digits()), Some(p), "{p:?}");
        }
        assert!(
            Pos::digits(&Pos {
                ts: 1,
                seq: 2,
                idx: 3
            }) < Pos::digits(&Pos {
                ts: 2,
                seq: 0,
                idx: 0
            })
        );
        assert_eq!(Pos::parse("12"), None);
    }
}

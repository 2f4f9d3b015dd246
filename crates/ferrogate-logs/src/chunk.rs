//! One accepted batch of one stream, as stored: a header in clear (what paging, retention
//! and deletion need) and the events, AES-256-GCM-encrypted under the group's data key.
//!
//! Body: `nonce (12) ‖ ciphertext ‖ tag (16)`. Plaintext: per event, `timestamp (i64 LE) ‖
//! length (u32 LE) ‖ message (UTF-8)`. AAD: a domain label, the chunk's store key (group
//! id, stream name, sequence number) and the header: a body moved to another key, or a
//! header edited to hide or reorder events, no longer decrypts.
//!
//! # Invariants
//! - A message is never written to the store but inside a body.
//! - The clear header holds only the key number, event count, timestamps and sizes.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, NONCE_LEN};
use zeroize::Zeroizing;

use crate::LogsError;

/// The chunk format. DO NOT CHANGE: stored chunks carry it; a new layout takes a new
/// version and keeps reading this one.
pub const VERSION: u8 = 1;

/// The AAD's domain label. DO NOT CHANGE (stored chunks are bound to it).
const LABEL: &[u8] = b"ferrogate-logs-chunk-v1";

/// AES-GCM's tag.
const TAG_LEN: usize = 16;

/// Per-event bytes of the plaintext layout besides the message.
const EVENT_OVERHEAD: usize = 12;

/// A chunk's clear header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The group's data key that encrypted it.
    pub key_id: u32,
    /// Events in it.
    pub count: u32,
    /// The earliest event timestamp.
    pub min_ts: i64,
    /// The latest event timestamp.
    pub max_ts: i64,
    /// When it was accepted.
    pub ingestion_time: i64,
    /// Stored bytes (body and header).
    pub stored: u32,
}

/// The encoded header's length.
pub const HEADER_LEN: usize = 1 + 4 + 4 + 8 + 8 + 8 + 4;

impl Header {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION;
        out[1..5].copy_from_slice(&self.key_id.to_le_bytes());
        out[5..9].copy_from_slice(&self.count.to_le_bytes());
        out[9..17].copy_from_slice(&self.min_ts.to_le_bytes());
        out[17..25].copy_from_slice(&self.max_ts.to_le_bytes());
        out[25..33].copy_from_slice(&self.ingestion_time.to_le_bytes());
        out[33..37].copy_from_slice(&self.stored.to_le_bytes());
        out
    }

    /// Decodes a header.
    pub fn decode(b: &[u8]) -> Result<Self, LogsError> {
        let bad = || LogsError::Crypto("a chunk header is malformed");
        if b.len() != HEADER_LEN || b[0] != VERSION {
            return Err(bad());
        }
        let u32_at = |i: usize| {
            b[i..i + 4]
                .try_into()
                .map(u32::from_le_bytes)
                .map_err(|_| bad())
        };
        let i64_at = |i: usize| {
            b[i..i + 8]
                .try_into()
                .map(i64::from_le_bytes)
                .map_err(|_| bad())
        };
        Ok(Self {
            key_id: u32_at(1)?,
            count: u32_at(5)?,
            min_ts: i64_at(9)?,
            max_ts: i64_at(17)?,
            ingestion_time: i64_at(25)?,
            stored: u32_at(33)?,
        })
    }
}

fn aad(key: &[u8], header: &[u8; HEADER_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(LABEL.len() + key.len() + HEADER_LEN);
    a.extend_from_slice(LABEL);
    a.extend_from_slice(key);
    a.extend_from_slice(header);
    a
}

/// Seals `events` (timestamp, message; in chronological order) as the chunk stored at
/// `store_key`: its header and body.
pub fn seal(
    data_key: &LessSafeKey,
    key_id: u32,
    store_key: &[u8],
    events: &[(i64, &str)],
    ingestion_time: i64,
) -> Result<(Header, Vec<u8>), LogsError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(LogsError::Crypto("an empty chunk"));
    };
    let size: usize = events.iter().map(|(_, m)| m.len() + EVENT_OVERHEAD).sum();
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| LogsError::Crypto("the CSPRNG failed"))?;
    // Laid out in place: the nonce, then the plaintext, encrypted where it lies (no copy
    // of the plaintext survives the call), then the tag.
    let mut sealed = Vec::with_capacity(NONCE_LEN + size + TAG_LEN);
    sealed.extend_from_slice(&nonce);
    for (ts, m) in events {
        sealed.extend_from_slice(&ts.to_le_bytes());
        let len = u32::try_from(m.len()).map_err(|_| LogsError::Crypto("an event too large"))?;
        sealed.extend_from_slice(&len.to_le_bytes());
        sealed.extend_from_slice(m.as_bytes());
    }
    let stored = u32::try_from(NONCE_LEN + size + TAG_LEN + HEADER_LEN)
        .map_err(|_| LogsError::Crypto("a chunk too large"))?;
    let header = Header {
        key_id,
        count: u32::try_from(events.len()).map_err(|_| LogsError::Crypto("too many events"))?,
        min_ts: events.iter().map(|e| e.0).min().unwrap_or(first.0),
        max_ts: events.iter().map(|e| e.0).max().unwrap_or(last.0),
        ingestion_time,
        stored,
    };
    let sealing = data_key.seal_in_place_separate_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(store_key, &header.encode())),
        &mut sealed[NONCE_LEN..],
    );
    match sealing {
        Ok(tag) => {
            sealed.extend_from_slice(tag.as_ref());
            Ok((header, sealed))
        }
        Err(_) => {
            zeroize::Zeroize::zeroize(&mut sealed);
            Err(LogsError::Crypto("sealing failed"))
        }
    }
}

/// The plaintext of a chunk (a zeroizing buffer), to be read with [`Events`].
pub fn open(
    data_key: &LessSafeKey,
    store_key: &[u8],
    header: &Header,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, LogsError> {
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(LogsError::Crypto("a chunk body is truncated"));
    }
    let (nonce, ct) = body.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| LogsError::Crypto("a chunk nonce is malformed"))?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let len = data_key
        .open_in_place(nonce, Aad::from(aad(store_key, &header.encode())), &mut buf)
        .map_err(|_| LogsError::Crypto("a chunk did not authenticate"))?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Iterates the events of an opened chunk: `(index, timestamp, message bytes)`.
pub struct Events<'a> {
    plain: &'a [u8],
    at: usize,
    index: u32,
}

impl<'a> Events<'a> {
    /// The events of `plain`.
    pub fn new(plain: &'a [u8]) -> Self {
        Self {
            plain,
            at: 0,
            index: 0,
        }
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<(u32, i64, &'a [u8]), LogsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.plain.len() {
            return None;
        }
        let bad = || Some(Err(LogsError::Crypto("a chunk's events are malformed")));
        let Some(head) = self.plain.get(self.at..self.at + EVENT_OVERHEAD) else {
            return bad();
        };
        let ts = i64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        let len = u32::from_le_bytes(head[8..].try_into().unwrap_or_default()) as usize;
        let start = self.at + EVENT_OVERHEAD;
        let Some(msg) = self.plain.get(start..start + len) else {
            return bad();
        };
        self.at = start + len;
        let i = self.index;
        self.index += 1;
        Some(Ok((i, ts, msg)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::{UnboundKey, AES_256_GCM};

    fn key(b: u8) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[b; 32]).unwrap())
    }

    #[test]
    fn seals_and_opens_in_order() {
        let k = key(7);
        let events = [(10, "first line"), (10, "second"), (12, "third ünïcode")];
        let (h, body) = seal(&k, 3, b"store-key", &events, 99).unwrap();
        assert_eq!(
            (h.key_id, h.count, h.min_ts, h.max_ts, h.ingestion_time),
            (3, 3, 10, 12, 99)
        );
        assert_eq!(h.stored as usize, body.len() + HEADER_LEN);
        assert!(
            !body.windows(6).any(|w| w == b"second"),
            "a message in clear"
        );
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        let plain = open(&k, b"store-key", &h, &body).unwrap();
        let got: Vec<(u32, i64, Vec<u8>)> = Events::new(&plain)
            .map(|e| e.map(|(i, t, m)| (i, t, m.to_vec())).unwrap())
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], (2, 12, "third ünïcode".as_bytes().to_vec()));
    }

    #[test]
    fn binds_key_position_and_header() {
        let k = key(1);
        let (h, body) = seal(&k, 0, b"g/s/1", &[(5, "x")], 6).unwrap();
        assert!(
            open(&key(2), b"g/s/1", &h, &body).is_err(),
            "another data key"
        );
        assert!(
            open(&k, b"g/s/2", &h, &body).is_err(),
            "moved to another key"
        );
        let mut h2 = h;
        h2.max_ts = 4;
        assert!(open(&k, b"g/s/1", &h2, &body).is_err(), "an edited header");
        let mut tampered = body.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(open(&k, b"g/s/1", &h, &tampered).is_err(), "a flipped bit");
        assert!(open(&k, b"g/s/1", &h, &body[..10]).is_err(), "truncated");
    }

    #[test]
    fn frozen_header_layout() {
        // DO NOT CHANGE: stored chunks are read with this layout.
        let h = Header {
            key_id: 1,
            count: 2,
            min_ts: 3,
            max_ts: 4,
            ingestion_time: 5,
            stored: 6,
        };
        let e = h.encode();
        assert_eq!(e.len(), 37);
        assert_eq!(e[0], 1);
        assert_eq!(&e[1..5], &[1, 0, 0, 0]);
        assert_eq!(&e[33..37], &[6, 0, 0, 0]);
        assert!(Header::decode(&e[..36]).is_err());
    }
}

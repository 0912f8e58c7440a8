//! A message block's records: their byte layout, checksum and codec.
//!
//! A block file (`msgs/<n>.blk`) is a sequence of records laid out as
//! nats-server's filestore lays them (2.10+), all integers little-endian:
//!
//! ```text
//! len:u32 seq:u64 ts:i64 subj_len:u16 subject [hdr_len:u32 headers] payload checksum:[u8; 8]
//! ```
//!
//! - `len` is the whole record's length; its high bit ([`HBIT`]) says the
//!   record has headers (then `hdr_len` and the header block follow the
//!   subject).
//! - `seq` carries two flag bits: [`TBIT`] marks a tombstone (a record
//!   saying "message `seq` was removed", with no subject or payload) and
//!   [`EBIT`] a record that is not a message: an erased message (its bytes
//!   overwritten with random ones) or a skip marker that only remembers the
//!   last sequence.
//! - `checksum` is HighwayHash-64 of `seq`, `ts`, subject, headers and
//!   payload (not of the lengths), keyed with SHA-256 of `"<stream>-<n>"`
//!   for block `n`: the same algorithm and key as nats-server, so a block
//!   written by one verifies in the other.
//!
//! Encryption at rest (`crypt.rs`) and S2 compression (`compress.rs`)
//! wrap a block's bytes between this codec and the file.

use highway::{HighwayHash, HighwayHasher, Key};
use sha2::{Digest, Sha256};

/// `len` + `seq` + `ts` + `subj_len`.
pub const HDR_LEN: usize = 22;
/// The checksum at the end of every record.
pub const HASH_LEN: usize = 8;
/// A record with no subject, headers or payload (tombstones, skips).
pub const EMPTY_RECORD: usize = HDR_LEN + HASH_LEN;
/// On `len`: the record has headers.
pub const HBIT: u32 = 1 << 31;
/// On `seq`: not a message (erased, or a skip marker).
pub const EBIT: u64 = 1 << 63;
/// On `seq`: a tombstone for the message `seq`.
pub const TBIT: u64 = 1 << 62;
/// Record lengths above this are corruption (as in nats-server).
pub const MAX_RECORD: usize = 32 * 1024 * 1024;

/// The checksum key of block `index` of stream `name`.
pub fn block_key(name: &str, index: u32) -> Key {
    key_of(format!("{name}-{index}").as_bytes())
}

/// A HighwayHash key from SHA-256 of `material` (nats-server's derivation).
pub fn key_of(material: &[u8]) -> Key {
    let digest = Sha256::digest(material);
    let mut words = [0u64; 4];
    for (word, chunk) in words.iter_mut().zip(digest.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *word = u64::from_le_bytes(b);
    }
    Key(words)
}

/// HighwayHash-64 of the concatenation of `parts`, as nats-server writes
/// it (little-endian bytes).
pub fn checksum(key: Key, parts: &[&[u8]]) -> [u8; 8] {
    let mut hasher = HighwayHasher::new(key);
    for part in parts {
        hasher.append(part);
    }
    hasher.finalize64().to_le_bytes()
}

/// The length of a message's record, which is also what it counts for in
/// the stream's `bytes` (nats-server's `fileStoreMsgSize`).
pub fn record_len(subject: usize, headers: usize, payload: usize) -> usize {
    if headers == 0 {
        HDR_LEN + subject + payload + HASH_LEN
    } else {
        HDR_LEN + subject + 4 + headers + payload + HASH_LEN
    }
}

/// Appends one record to `buf`. `seq` may carry [`TBIT`] or [`EBIT`].
/// The caller has checked the sizes (`record_len` ≤ [`MAX_RECORD`],
/// subject ≤ 65 535 bytes).
pub fn encode(
    buf: &mut Vec<u8>,
    key: Key,
    seq: u64,
    ts: i64,
    subject: &[u8],
    headers: &[u8],
    payload: &[u8],
) {
    let len = record_len(subject.len(), headers.len(), payload.len());
    buf.reserve(len);
    let start = buf.len();
    let mut l = len as u32;
    if !headers.is_empty() {
        l |= HBIT;
    }
    buf.extend_from_slice(&l.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&ts.to_le_bytes());
    buf.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    buf.extend_from_slice(subject);
    if !headers.is_empty() {
        buf.extend_from_slice(&(headers.len() as u32).to_le_bytes());
        buf.extend_from_slice(headers);
    }
    buf.extend_from_slice(payload);
    let sum = checksum(
        key,
        &[&buf[start + 4..start + 20], subject, headers, payload],
    );
    buf.extend_from_slice(&sum);
}

/// An erased message: the same length as the record it replaces, `seq`
/// with [`EBIT`], no subject, and `filler` (random bytes) as payload.
pub fn encode_erased(key: Key, seq: u64, filler: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(EMPTY_RECORD + filler.len());
    encode(&mut out, key, seq | EBIT, 0, b"", b"", filler);
    out
}

/// One record read from a buffer (not yet checked against its checksum).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The sequence with its flag bits.
    pub raw_seq: u64,
    pub ts: i64,
    pub subject: &'a [u8],
    pub headers: &'a [u8],
    pub payload: &'a [u8],
    /// The whole record's length.
    pub len: usize,
    seq_ts: &'a [u8],
    sum: &'a [u8],
}

impl<'a> Record<'a> {
    /// The sequence without flag bits.
    pub fn seq(&self) -> u64 {
        self.raw_seq & !(EBIT | TBIT)
    }
    pub fn is_tombstone(&self) -> bool {
        self.raw_seq & TBIT != 0
    }
    /// A message (not a tombstone, erased record or skip marker).
    pub fn is_message(&self) -> bool {
        self.raw_seq & (TBIT | EBIT) == 0 && self.raw_seq != 0
    }
    /// Whether the checksum matches the record's bytes.
    pub fn verify(&self, key: Key) -> bool {
        checksum(
            key,
            &[self.seq_ts, self.subject, self.headers, self.payload],
        ) == self.sum
    }
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        buf.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        buf.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        buf.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Reads the record at `at`, checking only that its lengths are sane and
/// inside `buf`. None when they are not.
pub fn parse(buf: &[u8], at: usize) -> Option<Record<'_>> {
    let raw_len = u32_at(buf, at)?;
    let has_headers = raw_len & HBIT != 0;
    let len = (raw_len & !HBIT) as usize;
    if !(EMPTY_RECORD..=MAX_RECORD).contains(&len) || at.checked_add(len)? > buf.len() {
        return None;
    }
    let rec = &buf[at..at + len];
    let raw_seq = u64_at(rec, 4)?;
    let ts = u64_at(rec, 12)? as i64;
    let slen = u16_at(rec, 20)? as usize;
    let body = &rec[HDR_LEN..len - HASH_LEN];
    let subject = body.get(..slen)?;
    let (headers, payload) = if has_headers {
        let hlen = u32_at(body, slen)? as usize;
        let start = slen + 4;
        let end = start.checked_add(hlen)?;
        (body.get(start..end)?, body.get(end..)?)
    } else {
        (&body[..0], &body[slen..])
    };
    Some(Record {
        raw_seq,
        ts,
        subject,
        headers,
        payload,
        len,
        seq_ts: &rec[4..20],
        sum: &rec[len - HASH_LEN..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_its_checksum_catches_any_flipped_byte() {
        let key = block_key("S", 1);
        let mut buf = Vec::new();
        encode(&mut buf, key, 7, 99, b"a.b", b"NATS/1.0\r\n\r\n", b"hello");
        encode(&mut buf, key, 8, 100, b"c", b"", b"");
        let first = parse(&buf, 0).expect("record");
        assert_eq!(first.len, record_len(3, 12, 5));
        assert_eq!(
            (
                first.seq(),
                first.ts,
                first.subject,
                first.headers,
                first.payload
            ),
            (7, 99, &b"a.b"[..], &b"NATS/1.0\r\n\r\n"[..], &b"hello"[..])
        );
        assert!(first.verify(key));
        assert!(!first.verify(block_key("S", 2)), "keyed by block");
        let second = parse(&buf, first.len).expect("record");
        assert_eq!((second.seq(), second.len), (8, EMPTY_RECORD + 1));
        assert!(second.verify(key));
        let len = first.len;
        for at in 0..len {
            let mut bad = buf.clone();
            bad[at] ^= 0x40;
            if let Some(rec) = parse(&bad, 0)
                && rec.len == len
            {
                assert!(!rec.verify(key), "flip at {at} not caught");
            }
        }
    }

    #[test]
    fn garbage_never_parses_out_of_bounds() {
        let mut buf = vec![0xffu8; 64];
        assert!(parse(&buf, 0).is_none());
        buf[..4].copy_from_slice(&40u32.to_le_bytes());
        buf[20..22].copy_from_slice(&60u16.to_le_bytes());
        assert!(parse(&buf, 0).is_none(), "subject longer than the record");
        assert!(parse(&buf, 60).is_none());
        assert!(parse(&buf, usize::MAX - 2).is_none());
    }
}

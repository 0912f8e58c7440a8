//! `msgs/index.db`: the stream state, so that a restart reads one file
//! instead of every block.
//!
//! Written on close and on `sync_to_disk` (temporary file, fsync, rename),
//! it holds the last sequence and time, each block's metadata (number,
//! length on disk, sequence range, first live, deleted sequences, live
//! count and bytes, lowest earlier tombstone, the file's length when
//! compressed, else 0), the per-subject index and
//! the message TTLs, followed by a HighwayHash-64 checksum keyed with
//! SHA-256 of the stream name. Its layout is rnats's own (nats-server's
//! `index.db` is a different encoding, which rnats does not read: opening a
//! nats-server directory rebuilds the state from its blocks). Integers are
//! little-endian. In an encrypted store the whole file is sealed with the
//! stream's key (`crypt.rs`).
//!
//! It is trusted only when intact and when every block file has exactly
//! the length it records: any append, tombstone, new or deleted block
//! since it was written makes it stale, and the blocks are scanned instead.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use highway::Key;

use super::{Block, FileStore, PerSubject, block};

const MAGIC: &[u8; 8] = b"RNJSIX02";
/// The first version, without the compressed length of each block.
const MAGIC_V1: &[u8; 8] = b"RNJSIX01";

/// What `index.db` restores.
pub(crate) struct Decoded {
    pub last_seq: u64,
    pub last_time: i64,
    pub first_time: i64,
    pub blocks: Vec<Block>,
    pub subjects: HashMap<Bytes, PerSubject>,
    pub ttls: Vec<(i64, u64)>,
}

impl Decoded {
    /// Whether the block files on disk (number, length) are the ones this
    /// index describes.
    pub fn matches(&self, files: &[(u32, u64)]) -> bool {
        self.blocks.len() == files.len()
            && self
                .blocks
                .iter()
                .zip(files)
                .all(|(b, (index, len))| b.index == *index && b.disk_len() == *len)
    }
}

impl Decoded {
    /// Whether the block files on disk are this index's blocks with only
    /// appends since: its last block longer, or new blocks after it (what a
    /// crash after it was written leaves).
    pub fn is_prefix_of(&self, files: &[(u32, u64)]) -> bool {
        let n = self.blocks.len();
        n <= files.len()
            && self
                .blocks
                .iter()
                .zip(files)
                .enumerate()
                .all(|(i, (b, (index, len)))| {
                    b.index == *index
                        && (b.disk_len() == *len
                            || (i + 1 == n && b.disk.is_none() && b.len < *len))
                })
    }
}

fn put64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn encode(store: &FileStore, key: Key) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + store.blocks.len() * 72 + store.subjects.len() * 48);
    buf.extend_from_slice(MAGIC);
    put64(&mut buf, store.state.last_seq);
    put64(&mut buf, store.state.last_time as u64);
    put64(&mut buf, store.state.first_time as u64);
    put64(&mut buf, store.blocks.len() as u64);
    for b in &store.blocks {
        buf.extend_from_slice(&b.index.to_le_bytes());
        for v in [
            b.len,
            b.rec_first,
            b.rec_last,
            b.first,
            b.msgs,
            b.bytes,
            b.tomb_lo,
            b.disk.unwrap_or(0),
            b.dmap.len() as u64,
        ] {
            put64(&mut buf, v);
        }
        for d in &b.dmap {
            put64(&mut buf, *d);
        }
    }
    put64(&mut buf, store.subjects.len() as u64);
    for (subject, per) in &store.subjects {
        buf.extend_from_slice(&(subject.len() as u16).to_le_bytes());
        buf.extend_from_slice(subject);
        put64(&mut buf, per.msgs);
        put64(&mut buf, per.first);
        put64(&mut buf, per.last);
        buf.push(u8::from(per.first_stale) | (u8::from(per.last_stale) << 1));
    }
    put64(&mut buf, store.ttls.len() as u64);
    for (expiry, seq) in &store.ttls {
        put64(&mut buf, *expiry as u64);
        put64(&mut buf, *seq);
    }
    let sum = block::checksum(key, &[&buf]);
    buf.extend_from_slice(&sum);
    buf
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    /// A count of items of at least `min` bytes each, checked against
    /// what is left.
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n.checked_mul(min)? <= self.buf.len()).then_some(n)
    }
}

/// Whether `buf` starts as rnats's index.db does.
pub(crate) fn is_ours(buf: &[u8]) -> bool {
    buf.starts_with(MAGIC) || buf.starts_with(MAGIC_V1)
}

/// None when the file is not an intact index of this stream.
pub(crate) fn decode(buf: &[u8], key: Key, name: &str) -> Option<Decoded> {
    let body_len = buf.len().checked_sub(block::HASH_LEN)?;
    let (body, sum) = buf.split_at(body_len);
    if block::checksum(key, &[body]) != sum || !is_ours(body) {
        return None;
    }
    let v1 = body.starts_with(MAGIC_V1);
    let mut r = Reader {
        buf: &body[MAGIC.len()..],
    };
    let last_seq = r.u64()?;
    if last_seq > super::MAX_SEQ {
        return None;
    }
    let last_time = r.u64()? as i64;
    let first_time = r.u64()? as i64;
    let n = r.count(if v1 { 68 } else { 76 })?;
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let index = r.u32()?;
        let mut b = Block::new(name, index, 1);
        b.len = r.u64()?;
        b.rec_first = r.u64()?;
        b.rec_last = r.u64()?;
        b.first = r.u64()?;
        b.msgs = r.u64()?;
        b.bytes = r.u64()?;
        b.tomb_lo = r.u64()?;
        if !v1 {
            b.disk = Some(r.u64()?).filter(|d| *d > 0);
        }
        let ndel = r.count(8)?;
        let mut dmap = BTreeSet::new();
        for _ in 0..ndel {
            dmap.insert(r.u64()?);
        }
        b.dmap = dmap;
        // What the rest of the store relies on.
        if b.rec_last > last_seq
            || b.msgs > b.rec_last.saturating_sub(b.rec_first) + 1
            || b.rec_first > b.rec_last.checked_add(1)?
            || b.first < b.rec_first
            || b.first > b.rec_last.checked_add(1)?
            || blocks.last().is_some_and(|p: &Block| {
                p.index >= b.index || p.rec_last > b.rec_last || p.rec_last >= b.rec_first
            })
        {
            return None;
        }
        blocks.push(b);
    }
    let n = r.count(27)?;
    let mut subjects = HashMap::with_capacity(n);
    for _ in 0..n {
        let len = r.u16()? as usize;
        let subject = Bytes::copy_from_slice(r.take(len)?);
        let msgs = r.u64()?;
        let first = r.u64()?;
        let last = r.u64()?;
        let flags = r.take(1)?[0];
        subjects.insert(
            subject,
            PerSubject {
                msgs,
                first,
                last,
                first_stale: flags & 1 != 0,
                last_stale: flags & 2 != 0,
            },
        );
    }
    let n = r.count(16)?;
    let mut ttls = Vec::with_capacity(n);
    for _ in 0..n {
        let expiry = r.u64()? as i64;
        ttls.push((expiry, r.u64()?));
    }
    if !r.buf.is_empty() {
        return None;
    }
    Some(Decoded {
        last_seq,
        last_time,
        first_time,
        blocks,
        subjects,
        ttls,
    })
}

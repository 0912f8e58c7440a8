//! Rebuilding a store's state from its blocks, and surviving torn ones.
//!
//! [`scan`] walks a block's records verifying each checksum. A record that
//! fails (a torn write, flipped bytes) is skipped when a valid record
//! follows it somewhere after (searched byte by byte, so a corrupt length
//! does not hide the rest of the block); when none does, the block ends
//! there: the tail is torn. [`rebuild`] scans every block, newest first (a
//! tombstone is always in the same block as its message or a later one,
//! so removed messages are known before they are met), cuts torn tails off
//! the files, logs every loss, and returns the state `index.db` would have
//! given.
//!
//! [`catch_up`] is the short way after a crash: `index.db` written earlier
//! plus only the records appended to the blocks since.

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::Path;

use bytes::Bytes;
use highway::Key;

use super::block::{self, Record};
use super::crypt::BlockKey;
use super::index::Decoded;
use super::{
    Block, FileStore, PerSubject, StoreError, block_path, read_block, rewrite_block,
    ttl_from_headers,
};

/// Sequences above this are taken for garbage when searching past a bad
/// record.
const PLAUSIBLE_SEQ: u64 = 1 << 48;

/// What [`scan`] found besides the good records.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Where the last good record ends: the block's valid length.
    pub valid_end: usize,
    /// Byte ranges skipped between good records.
    pub lost: Vec<(usize, usize)>,
}

fn good(buf: &[u8], at: usize, key: Key) -> Option<Record<'_>> {
    block::parse(buf, at).filter(|r| r.verify(key))
}

/// Calls `f(offset, record)` for every record of `buf` whose checksum
/// holds (see the module doc).
pub(crate) fn scan(buf: &[u8], key: Key, mut f: impl FnMut(usize, &Record<'_>)) -> Scanned {
    let mut out = Scanned::default();
    let mut at = 0;
    while at < buf.len() {
        if let Some(rec) = good(buf, at, key) {
            f(at, &rec);
            at += rec.len;
            out.valid_end = at;
            continue;
        }
        // Look for the next good record after the bad one.
        let next = (at + 1..buf.len().saturating_sub(block::EMPTY_RECORD - 1)).find(|&p| {
            block::parse(buf, p).is_some_and(|r| r.seq() < PLAUSIBLE_SEQ && r.verify(key))
        });
        match next {
            Some(p) => {
                out.lost.push((at, p));
                at = p;
            }
            None => break,
        }
    }
    out
}

/// The state of the blocks `files` ((number, length), ascending) of
/// stream `name`, read from the files in `mdir`.
pub(crate) fn rebuild(
    mdir: &Path,
    name: &str,
    files: &[(u32, u64)],
    keys: &HashMap<u32, BlockKey>,
) -> Result<Decoded, StoreError> {
    tracing::info!(
        stream = name,
        blocks = files.len(),
        "JetStream rebuilding the stream state from its blocks"
    );
    let mut tombs: HashSet<u64> = HashSet::new();
    // Messages of a newer block start here: an older block's messages at
    // or past it are out of order (not written by a store) and ignored.
    let mut floor = u64::MAX;
    let mut subjects: HashMap<Bytes, PerSubject> = HashMap::new();
    let mut ttls = Vec::new();
    let mut blocks_rev = Vec::with_capacity(files.len());
    // The highest sequence of any record, and its time.
    let (mut last_seq, mut last_time) = (0u64, 0i64);
    let mut first: Option<(u64, i64)> = None;
    for &(index, file_len) in files.iter().rev() {
        let path = block_path(mdir, index);
        let crypt = keys.get(&index);
        let (buf, mut disk) = match read_block(mdir, index, crypt, None) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                // A compressed block that does not decompress: kept as it
                // is (no record of it is served), and said.
                tracing::warn!(path = %path.display(), error = %e, "JetStream block cannot be decompressed; its records are lost");
                let mut b = Block::new(name, index, 1);
                (b.rec_first, b.rec_last, b.first) = (u64::MAX, 0, 1);
                (b.len, b.disk, b.crypt) = (file_len, Some(file_len), crypt.cloned());
                blocks_rev.push(b);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let key = block::block_key(name, index);
        let mut block_tombs = Vec::new();
        let mut msgs: Vec<(u64, usize)> = Vec::new();
        let scanned = scan(&buf, key, |at, rec| {
            let seq = rec.seq();
            if seq > last_seq || (seq == last_seq && rec.ts > last_time) {
                (last_seq, last_time) = (seq, rec.ts);
            }
            if rec.is_tombstone() {
                block_tombs.push(seq);
            } else if rec.is_message() && msgs.last().is_none_or(|(prev, _)| seq > *prev) {
                msgs.push((seq, at));
            }
        });
        for (from, to) in &scanned.lost {
            tracing::warn!(path = %path.display(), from, to, "JetStream block has corrupt bytes; the records there are lost");
        }
        if scanned.valid_end < buf.len() {
            tracing::warn!(
                path = %path.display(),
                valid = scanned.valid_end,
                len = buf.len(),
                "JetStream block torn; cut back to its last valid record"
            );
            if disk.is_some() {
                disk = rewrite_block(mdir, index, crypt, &buf[..scanned.valid_end], true)?;
            } else {
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(scanned.valid_end as u64)?;
            }
        }
        tombs.extend(block_tombs.iter().copied());
        let mut b = Block::new(name, index, 1);
        b.len = scanned.valid_end as u64;
        (b.disk, b.crypt) = (disk, crypt.cloned());
        if let (Some((lo, _)), Some((hi, _))) = (msgs.first(), msgs.last()) {
            b.rec_first = *lo;
            b.rec_last = *hi;
            b.first = *hi + 1;
        } else {
            // Ordered among the others below; every tombstone here names
            // an earlier block.
            b.rec_first = u64::MAX;
            b.rec_last = 0;
            b.first = 1;
        }
        for seq in block_tombs {
            b.note_tombstone(seq);
        }
        let mut live = Vec::with_capacity(msgs.len());
        for &(seq, at) in &msgs {
            if seq >= floor || (!tombs.is_empty() && tombs.contains(&seq)) {
                continue;
            }
            let Some(rec) = block::parse(&buf, at) else {
                continue;
            };
            live.push(seq);
            b.msgs += 1;
            b.bytes += rec.len as u64;
            if first.is_none_or(|(s, _)| seq < s) {
                first = Some((seq, rec.ts));
            }
            match subjects.get_mut(rec.subject) {
                Some(per) => {
                    per.msgs += 1;
                    per.first = per.first.min(seq);
                    per.last = per.last.max(seq);
                }
                None => {
                    subjects.insert(
                        Bytes::copy_from_slice(rec.subject),
                        PerSubject {
                            msgs: 1,
                            first: seq,
                            last: seq,
                            first_stale: false,
                            last_stale: false,
                        },
                    );
                }
            }
            let ttl = ttl_from_headers(rec.headers);
            if ttl > 0 {
                ttls.push((
                    rec.ts.saturating_add(ttl.saturating_mul(1_000_000_000)),
                    seq,
                ));
            }
        }
        if let Some(&lo) = live.first() {
            b.first = lo;
            let mut expect = lo;
            for &seq in &live {
                b.dmap.extend(expect..seq);
                expect = seq + 1;
            }
            b.dmap.extend(expect..=b.rec_last);
        }
        if let Some((lo, _)) = msgs.first() {
            floor = floor.min(*lo);
        }
        blocks_rev.push(b);
    }
    let mut blocks: Vec<Block> = blocks_rev.into_iter().rev().collect();
    // Blocks without messages take an empty range where they stand.
    let mut prev = 0u64;
    for b in &mut blocks {
        if b.rec_last == 0 || b.rec_first <= prev {
            if b.rec_last != 0 {
                tracing::warn!(
                    stream = name,
                    block = b.index,
                    "JetStream block out of sequence order; its messages are ignored"
                );
                b.msgs = 0;
                b.bytes = 0;
                b.dmap.clear();
            }
            b.rec_first = prev + 1;
            b.rec_last = prev;
            b.first = prev + 1;
        }
        prev = b.rec_last;
    }
    if blocks.iter().all(|b| b.msgs == 0) {
        first = None;
    }
    Ok(Decoded {
        last_seq,
        last_time,
        first_time: first.map_or(0, |(_, ts)| ts),
        blocks,
        subjects,
        ttls,
    })
}

/// One record read past what `index.db` knew.
struct Tail {
    raw_seq: u64,
    ts: i64,
    subject: Vec<u8>,
    ttl: i64,
    len: u64,
}

/// Brings a store installed from an `index.db` that `is_prefix_of` the
/// block files up to date with the records appended since (verified, a
/// torn tail cut off). Ok(false) when they do not fit what the index says
/// (the caller then rebuilds from the blocks).
pub(crate) fn catch_up(store: &mut FileStore, files: &[(u32, u64)]) -> Result<bool, StoreError> {
    let known = store.blocks.len();
    for &(index, file_len) in &files[known.saturating_sub(1)..] {
        let pos = match store.blocks.iter().position(|b| b.index == index) {
            Some(pos) => pos,
            None => {
                let mut b = Block::new(&store.cfg.name, index, store.state.last_seq + 1);
                b.crypt = store.keys.get(&index).cloned();
                store.blocks.push(b);
                store.blocks.len() - 1
            }
        };
        if file_len == store.blocks[pos].disk_len() {
            continue;
        }
        let from = store.blocks[pos].len as usize;
        let path = block_path(&store.mdir, index);
        let (buf, disk) =
            match read_block(&store.mdir, index, store.blocks[pos].crypt.as_ref(), None) {
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Ok(false),
                Err(e) => return Err(e.into()),
            };
        if disk.is_some() {
            if from != 0 {
                return Ok(false);
            }
            store.blocks[pos].disk = disk;
        }
        let Some(tail) = buf.get(from..) else {
            return Ok(false);
        };
        let mut recs = Vec::new();
        let scanned = scan(tail, store.blocks[pos].key, |_, rec| {
            recs.push(Tail {
                raw_seq: rec.raw_seq,
                ts: rec.ts,
                subject: if rec.is_message() {
                    rec.subject.to_vec()
                } else {
                    Vec::new()
                },
                ttl: if rec.is_message() {
                    ttl_from_headers(rec.headers)
                } else {
                    0
                },
                len: rec.len as u64,
            });
        });
        if !scanned.lost.is_empty() {
            return Ok(false);
        }
        if scanned.valid_end < tail.len() {
            if disk.is_some() {
                return Ok(false);
            }
            tracing::warn!(
                path = %path.display(),
                valid = from + scanned.valid_end,
                len = buf.len(),
                "JetStream block torn; cut back to its last valid record"
            );
            OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len((from + scanned.valid_end) as u64)?;
        }
        for rec in recs {
            let seq = rec.raw_seq & !(block::EBIT | block::TBIT);
            // Later reads of this block must see the record.
            store.blocks[pos].len += rec.len;
            store.cache.retain(|c| c.index != index);
            let newest = seq > store.state.last_seq
                || (seq == store.state.last_seq && rec.ts > store.state.last_time);
            if rec.raw_seq & block::TBIT != 0 {
                if newest {
                    (store.state.last_seq, store.state.last_time) = (seq, rec.ts);
                }
                store.blocks[pos].note_tombstone(seq);
                match store.peek(seq) {
                    Ok((at_pos, _, rl, _)) => {
                        let subject = std::mem::take(&mut store.scratch);
                        store.take(at_pos, seq, &subject, rl);
                        store.scratch = subject;
                    }
                    Err(StoreError::NotFound) => {}
                    Err(_) => return Ok(false),
                }
            } else if rec.raw_seq & block::EBIT != 0 || rec.raw_seq == 0 {
                // A skip marker, or a message erased where it stood: its
                // sequence is used, and in the block's range when next.
                let b = &mut store.blocks[pos];
                if seq > store.state.last_seq && seq == b.rec_last + 1 {
                    if !b.has_recs() {
                        b.rec_first = seq;
                    }
                    b.rec_last = seq;
                    b.first = b.first.max(b.rec_first);
                    b.drop_seq(seq);
                }
                if newest {
                    (store.state.last_seq, store.state.last_time) = (seq, rec.ts);
                }
            } else {
                let b = &mut store.blocks[pos];
                if seq <= store.state.last_seq || (b.has_recs() && seq != b.rec_last + 1) {
                    return Ok(false);
                }
                if !b.has_recs() {
                    b.rec_first = seq;
                    b.first = seq;
                }
                b.rec_last = seq;
                b.msgs += 1;
                b.bytes += rec.len;
                store.count_new(seq, &rec.subject, rec.ts, rec.ttl, rec.len);
            }
        }
    }
    store.fix_first();
    store.flushed = (store.state.last_seq, store.state.last_time);
    Ok(true)
}

//! [`FileStore`]: a stream's messages on disk (`storage: file`), laid out
//! after nats-server's filestore so that a later step can open its store
//! directories in place.
//!
//! **Layout.** A stream's directory holds `meta.inf`/`meta.sum` (the stream
//! configuration, written by the stream layer with [`write_meta`]) and
//! `msgs/`, which this store owns: message blocks `msgs/<n>.blk` (records
//! as [`block`] describes, `n` from 1, each block up to
//! [`FileStoreConfig::block_size`]) and `msgs/index.db`, the stream state
//! (`index.rs`) written on close and on [`Store::sync_to_disk`].
//!
//! **In memory**, per store: the blocks' metadata (sequence range, live
//! count, deleted sequences), the per-subject index (messages, first, last
//! of every subject), the message TTLs, the write buffer of the blocks
//! appended to since the last flush, and a cache of the last
//! [`CACHE_BLOCKS`] blocks read (their bytes and record offsets). Nothing is
//! kept per message beyond the deleted sequences inside a block (removing
//! the first message of a block just moves the block's first sequence).
//!
//! **Writes.** [`Store::append`] encodes the record into the current
//! block's write buffer (no system call); [`Store::flush`] writes each
//! block's buffer with one positioned write (and `fdatasync` when
//! `sync_always`). Removals are recorded as tombstone records in the
//! current block, except where whole blocks empty: those files are deleted
//! instead (after the flush that makes the rest durable). A failed write
//! truncates the blocks back to what was flushed before, forgets the
//! messages appended since (their sequences are given again: they were
//! never acknowledged), keeps the removals pending, and returns
//! [`StoreError::InsufficientResources`] for a full disk or quota.
//!
//! **Recovery** (`recover.rs`): `index.db` is used when it is intact and
//! every block file has the length it records, or when the blocks only
//! grew since (a crash): then only the records appended after it are
//! read. Otherwise the state is rebuilt from the blocks, verifying every record, cutting a torn tail
//! back to its last valid record and skipping a corrupt record in the
//! middle (each loss logged with `tracing::warn!`).
//!
//! **Encryption and compression** sit between [`block`]'s codec and the
//! files: everything in memory (write buffer, cached blocks, offsets) is
//! plain; a block file is XORed with its key stream at the same offsets
//! (`crypt.rs`: nats-server's keys, key files and ciphers), and a sealed
//! block may be compressed whole (`compress.rs`, when a new block takes
//! over), its file then replaced atomically. `index.db` is sealed with
//! the stream's key.
//!
//! **Owns**: `msgs/` under the stream directory, and `meta.key` beside
//! it. **May not touch**: `meta.inf`/`meta.sum` except through
//! [`write_meta`]/[`read_meta`].

pub mod block;
mod compress;
pub mod crypt;
mod index;
mod meta;
mod recover;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use highway::Key;

pub use crypt::{Cipher, Encryption};
pub use meta::{read_meta, write_meta};

use super::{
    Purge, Store, StoreError, StoreState, StoredMsg, SubjectInfo, filter_matches, subject_counts,
};
use block::{EBIT, EMPTY_RECORD, MAX_RECORD, Record, TBIT};

/// nats-server's block size for streams with limits retention (8 MiB).
pub const DEFAULT_BLOCK_SIZE: u64 = 8 * 1024 * 1024;
/// nats-server's block size for work-queue and interest streams and KV
/// buckets (4 MiB).
pub const MEDIUM_BLOCK_SIZE: u64 = 4 * 1024 * 1024;
/// The smallest block nats-server makes (32 000 bytes).
pub const MIN_BLOCK_SIZE: u64 = 32_000;

/// The block size nats-server picks for a stream: from `max_bytes` when it
/// is set (a quarter of it, rounded up to 100 bytes; the minimum below
/// that, the 8 MiB maximum above it, else 4 MiB), else 8 MiB for limits
/// retention and 4 MiB for work-queue and interest retention.
///
/// Encrypted streams' blocks are at most 2 MiB, as nats-server makes them.
pub fn block_size_for(limits_retention: bool, max_bytes: i64, encrypted: bool) -> u64 {
    let size = plain_block_size(limits_retention, max_bytes);
    if encrypted {
        size.min(MAX_ENCRYPTED_BLOCK_SIZE)
    } else {
        size
    }
}

/// nats-server's cap on the blocks of encrypted streams (2 MiB).
pub const MAX_ENCRYPTED_BLOCK_SIZE: u64 = 2 * 1024 * 1024;

fn plain_block_size(limits_retention: bool, max_bytes: i64) -> u64 {
    if max_bytes > 0 {
        let quarter = (max_bytes as u64 / 4 + 1).div_ceil(100) * 100;
        if quarter <= MIN_BLOCK_SIZE {
            MIN_BLOCK_SIZE
        } else if quarter >= DEFAULT_BLOCK_SIZE {
            DEFAULT_BLOCK_SIZE
        } else {
            MEDIUM_BLOCK_SIZE
        }
    } else if limits_retention {
        DEFAULT_BLOCK_SIZE
    } else {
        MEDIUM_BLOCK_SIZE
    }
}

/// The largest sequence a record can carry (the two top bits are flags).
pub const MAX_SEQ: u64 = (1 << 62) - 1;
/// How many blocks' bytes a store keeps after reading them.
pub const CACHE_BLOCKS: usize = 2;
const MSGS_DIR: &str = "msgs";
const INDEX_FILE: &str = "index.db";
/// Sealed blocks of one store compressed at the same time, at most.
const MAX_COMPRESSING: usize = 2;
/// A block re-encrypted for a new cipher, before it takes the block's place.
const CONVERTED_SUFFIX: &str = ".blk.cnv";
/// A write buffer whose capacity grew past this is shrunk after a flush.
const KEEP_WRITE_CAPACITY: usize = 64 * 1024;

/// How a [`FileStore`] is opened.
#[derive(Debug, Clone)]
pub struct FileStoreConfig {
    /// The stream's name: it keys the checksums (as in nats-server).
    pub name: String,
    /// A block is closed and a new one started past this many bytes.
    pub block_size: u64,
    /// `fdatasync` on every flush (`sync_always`).
    pub sync_always: bool,
    /// Encryption at rest, when configured.
    pub encryption: Option<Encryption>,
    /// Compress blocks with S2 when they are sealed (`compression: s2`).
    pub compress: bool,
}

impl FileStoreConfig {
    pub fn new(name: impl Into<String>) -> Self {
        FileStoreConfig {
            name: name.into(),
            block_size: DEFAULT_BLOCK_SIZE,
            sync_always: false,
            encryption: None,
            compress: false,
        }
    }
}

/// One message block's metadata.
#[derive(Debug)]
pub(crate) struct Block {
    pub index: u32,
    pub key: Key,
    /// The sequences of the message records in the block. An empty range
    /// (`rec_first == rec_last + 1`) still orders the block among the
    /// others.
    pub rec_first: u64,
    pub rec_last: u64,
    /// The first live message, or `rec_last + 1` when none is.
    pub first: u64,
    /// Removed sequences in `first + 1 ..= rec_last`.
    pub dmap: BTreeSet<u64>,
    pub msgs: u64,
    pub bytes: u64,
    /// Plain bytes of the block's records on disk (everything flushed).
    pub len: u64,
    /// The file's length when it is compressed (then never written to).
    pub disk: Option<u64>,
    /// The key of its key stream, when the store is encrypted.
    pub crypt: Option<crypt::BlockKey>,
    /// Bumped by every write inside the flushed bytes (an erase): a
    /// compressed copy made before it is stale.
    pub generation: u32,
    /// Records appended since the last flush.
    pub wbuf: Vec<u8>,
    /// The lowest sequence this block holds a tombstone for that lies in
    /// an earlier block (0 for none): while such a block exists, this one
    /// may not be deleted.
    pub tomb_lo: u64,
}

impl Block {
    fn new(name: &str, index: u32, next_seq: u64) -> Block {
        Block {
            index,
            key: block::block_key(name, index),
            rec_first: next_seq,
            rec_last: next_seq - 1,
            first: next_seq,
            dmap: BTreeSet::new(),
            msgs: 0,
            bytes: 0,
            len: 0,
            disk: None,
            crypt: None,
            generation: 0,
            wbuf: Vec::new(),
            tomb_lo: 0,
        }
    }
    /// The length of its file.
    fn disk_len(&self) -> u64 {
        self.disk.unwrap_or(self.len)
    }
    fn has_recs(&self) -> bool {
        self.rec_first <= self.rec_last
    }
    fn is_live(&self, seq: u64) -> bool {
        seq >= self.first && seq <= self.rec_last && !self.dmap.contains(&seq)
    }
    fn size(&self) -> u64 {
        self.len + self.wbuf.len() as u64
    }
    fn drop_seq(&mut self, seq: u64) {
        if seq == self.first {
            self.first += 1;
            while self.first <= self.rec_last && self.dmap.remove(&self.first) {
                self.first += 1;
            }
        } else {
            self.dmap.insert(seq);
        }
    }
    fn note_tombstone(&mut self, seq: u64) {
        if seq < self.rec_first && (self.tomb_lo == 0 || seq < self.tomb_lo) {
            self.tomb_lo = seq;
        }
    }
}

/// The messages of one subject; `first`/`last` may name removed messages
/// when marked stale, and are found again when next asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PerSubject {
    pub msgs: u64,
    pub first: u64,
    pub last: u64,
    pub first_stale: bool,
    pub last_stale: bool,
}

/// A block's bytes as last read, with where each message record starts.
struct Cached {
    index: u32,
    data: Vec<u8>,
    base: u64,
    offsets: Vec<u32>,
}

const NO_OFFSET: u32 = u32::MAX;

impl Cached {
    fn offset(&self, seq: u64) -> Option<usize> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        match self.offsets.get(i) {
            Some(&at) if at != NO_OFFSET => Some(at as usize),
            _ => None,
        }
    }
    /// Records `bytes` (whole records just written after `data`).
    fn push_records(&mut self, bytes: &[u8]) {
        let mut at = self.data.len();
        self.data.extend_from_slice(bytes);
        while let Some(rec) = block::parse(&self.data, at) {
            if rec.is_message() {
                index_message(&mut self.base, &mut self.offsets, rec.seq(), at);
            }
            at += rec.len;
        }
    }
}

/// Adds a message record's offset to a block's offsets.
fn index_message(base: &mut u64, offsets: &mut Vec<u32>, seq: u64, at: usize) -> bool {
    if offsets.is_empty() {
        *base = seq;
    }
    let Some(i) = seq.checked_sub(*base) else {
        return false;
    };
    let i = i as usize;
    if i < offsets.len() || i - offsets.len() > (1 << 24) {
        return false;
    }
    offsets.resize(i, NO_OFFSET);
    offsets.push(at as u32);
    true
}

/// Where each message record of `data` starts: first trusting the record
/// lengths, and if they do not add up, walking with checksums
/// ([`recover::scan`]) so a corrupt record does not hide the ones after it.
fn index_records(data: &[u8], key: Key) -> (u64, Vec<u32>) {
    let mut base = 0;
    let mut offsets = Vec::new();
    let mut at = 0;
    let mut clean = true;
    while at < data.len() {
        match block::parse(data, at) {
            Some(rec) => {
                if rec.is_message() && !index_message(&mut base, &mut offsets, rec.seq(), at) {
                    clean = false;
                    break;
                }
                at += rec.len;
            }
            None => {
                clean = false;
                break;
            }
        }
    }
    if !clean {
        offsets.clear();
        recover::scan(data, key, |at, rec| {
            if rec.is_message() {
                index_message(&mut base, &mut offsets, rec.seq(), at);
            }
        });
    }
    (base, offsets)
}

/// Files and directories only the server's user may read, as
/// nats-server makes them (0600, 0700).
pub(crate) fn private_file() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

/// Writes `data` to `path` whole or not at all: into `path.tmp` (a
/// private file, synced when `sync`), then renamed over `path`; the
/// temporary file is removed if anything fails.
pub(crate) fn write_atomically(path: &Path, data: &[u8], sync: bool) -> io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn create_private_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn block_path(mdir: &Path, index: u32) -> PathBuf {
    mdir.join(format!("{index}.blk"))
}

/// The position in `cache` of block `b`'s bytes, reading them if needed.
fn load_block(cache: &mut Vec<Cached>, mdir: &Path, b: &Block) -> Result<usize, StoreError> {
    if let Some(i) = cache.iter().position(|c| c.index == b.index) {
        cache[..=i].rotate_right(1);
        return Ok(0);
    }
    let mut data = Vec::with_capacity(b.size() as usize);
    if b.disk.is_some() {
        data = read_block(mdir, b.index, b.crypt.as_ref(), None)?.0;
    } else if b.len > 0 {
        data = read_block(mdir, b.index, b.crypt.as_ref(), Some(b.len))?.0;
        if (data.len() as u64) < b.len {
            tracing::warn!(
                block = b.index,
                expected = b.len,
                found = data.len(),
                "JetStream block shorter than recorded"
            );
        }
    }
    data.extend_from_slice(&b.wbuf);
    let (base, offsets) = index_records(&data, b.key);
    cache.insert(
        0,
        Cached {
            index: b.index,
            data,
            base,
            offsets,
        },
    );
    cache.truncate(CACHE_BLOCKS);
    Ok(0)
}

/// Block `index`'s plain content: decrypted with `key`, and decompressed
/// when compressed (then also the file's length). `len` reads at most
/// that many bytes of a file known not to be compressed.
pub(crate) fn read_block(
    mdir: &Path,
    index: u32,
    key: Option<&crypt::BlockKey>,
    len: Option<u64>,
) -> io::Result<(Vec<u8>, Option<u64>)> {
    let mut data = Vec::new();
    let file = File::open(block_path(mdir, index))?;
    match len {
        Some(len) => file.take(len).read_to_end(&mut data)?,
        None => (&file).read_to_end(&mut data)?,
    };
    if let Some(key) = key {
        key.apply(0, &mut data);
    }
    if len.is_none() && compress::is_compressed(&data) {
        let disk = data.len() as u64;
        let plain = compress::decompress(&data).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("block {index}: {e}"))
        })?;
        return Ok((plain, Some(disk)));
    }
    Ok((data, None))
}

/// A sealed block being compressed on a thread of its own: as it was when
/// the copy started (generation, length), and the thread making the copy.
struct Compressing {
    index: u32,
    generation: u32,
    len: u64,
    handle: std::thread::JoinHandle<io::Result<Option<(PathBuf, u64)>>>,
}

/// Writes a compressed (and encrypted) copy of sealed block `index`
/// beside it (`<n>.blk.s2.tmp`, fsynced): its path and length, or None
/// when compression did not round-trip. A leftover copy is removed by the
/// next open, like every `.tmp` file.
fn compress_copy(
    mdir: &Path,
    index: u32,
    key: Option<&crypt::BlockKey>,
    len: u64,
) -> io::Result<Option<(PathBuf, u64)>> {
    let (plain, _) = read_block(mdir, index, key, Some(len))?;
    if plain.len() as u64 != len {
        return Ok(None);
    }
    let Some(mut buf) = compress::compress(&plain) else {
        tracing::warn!(
            block = index,
            "JetStream block compression did not round-trip; kept uncompressed"
        );
        return Ok(None);
    };
    if let Some(key) = key {
        key.apply(0, &mut buf);
    }
    let tmp = mdir.join(format!("{index}.blk.s2.tmp"));
    write_synced(&tmp, &buf)?;
    Ok(Some((tmp, buf.len() as u64)))
}

/// Writes `buf` to a new private file at `tmp` and syncs its data; on
/// failure nothing is left behind.
fn write_synced(tmp: &Path, buf: &[u8]) -> io::Result<()> {
    let written = (|| {
        let f = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)?;
        f.write_all_at(buf, 0)?;
        f.sync_data()
    })();
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

/// Replaces block `index`'s file with `plain` (compressed when
/// `compress`, then encrypted with `key`): temporary file, fsync, rename.
/// Returns the new file's length when it is compressed, None when plain.
pub(crate) fn rewrite_block(
    mdir: &Path,
    index: u32,
    key: Option<&crypt::BlockKey>,
    plain: &[u8],
    compress: bool,
) -> io::Result<Option<u64>> {
    let compressed = if compress {
        let c = compress::compress(plain);
        if c.is_none() {
            tracing::warn!(
                block = index,
                "JetStream block compression did not round-trip; kept uncompressed"
            );
        }
        c
    } else {
        None
    };
    let is_compressed = compressed.is_some();
    let mut buf = compressed.unwrap_or_else(|| plain.to_vec());
    if let Some(key) = key {
        key.apply(0, &mut buf);
    }
    let path = block_path(mdir, index);
    let tmp = mdir.join(format!("{index}.blk.tmp"));
    write_synced(&tmp, &buf)?;
    let result = fs::rename(&tmp, &path).and_then(|()| sync_dir(mdir));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| is_compressed.then_some(buf.len() as u64))
}

fn is_out_of_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A [`Store`] in files (see the module doc).
pub struct FileStore {
    dir: PathBuf,
    mdir: PathBuf,
    cfg: FileStoreConfig,
    blocks: Vec<Block>,
    /// The open file of the block written last.
    wfile: Option<(u32, File)>,
    cache: Vec<Cached>,
    subjects: HashMap<Bytes, PerSubject>,
    /// (expiry, seq) of messages with their own TTL.
    ttls: BTreeSet<(i64, u64)>,
    ttl_of: HashMap<u64, i64>,
    state: StoreState,
    /// `last_seq` and `last_time` as of the last successful flush.
    flushed: (u64, i64),
    /// Tombstones and the skip marker written since the last flush, to
    /// write again if that flush fails.
    pending_tombs: Vec<(u64, i64)>,
    pending_skip: Option<(u64, i64)>,
    /// Blocks written without an fsync since the last `sync_to_disk`.
    unsynced: Vec<u32>,
    /// Block key files written without an fsync since then.
    unsynced_keys: Vec<u32>,
    /// A block emptied since the last flush (to delete at the next).
    reap_due: bool,
    scratch: Vec<u8>,
    /// The stream's key (`meta.key`), sealing `index.db`, when encrypted.
    skey: Option<crypt::StreamKey>,
    /// Block keys read at open, by block, for recovery (then moved to the
    /// blocks).
    keys: HashMap<u32, crypt::BlockKey>,
    /// Sealed blocks to compress after the next successful flush.
    compress_due: Vec<u32>,
    /// Blocks being compressed on threads of their own.
    compressing: Vec<Compressing>,
    /// Compressed blocks renamed into place since the last directory sync.
    dir_unsynced: bool,
    /// The encrypted copy of a write buffer.
    ebuf: Vec<u8>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("blocks", &self.blocks.len())
            .field("state", &self.state)
            .finish()
    }
}

impl FileStore {
    /// Opens the store in `dir` (a stream's directory), creating `msgs/`
    /// when new, and recovers its state (see the module doc).
    pub fn open(dir: &Path, cfg: FileStoreConfig) -> Result<FileStore, StoreError> {
        let mdir = dir.join(MSGS_DIR);
        create_private_dirs(&mdir)?;
        let mut files = Vec::new();
        let mut key_files = Vec::new();
        let mut converted = Vec::new();
        for entry in fs::read_dir(&mdir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            } else if let Some(n) = name.strip_suffix(".blk")
                && let Ok(index) = n.parse::<u32>()
            {
                files.push((index, entry.metadata()?.len()));
            } else if let Some(n) = name.strip_suffix(".key")
                && let Ok(index) = n.parse::<u32>()
            {
                key_files.push(index);
            } else if let Some(n) = name.strip_suffix(CONVERTED_SUFFIX)
                && let Ok(index) = n.parse::<u32>()
            {
                converted.push(index);
            }
        }
        files.sort_unstable();
        let mut store = FileStore::empty(dir, mdir, cfg);
        store.setup_encryption(&files, &key_files, &converted)?;
        let index_key = block::key_of(store.cfg.name.as_bytes());
        let name = store.cfg.name.clone();
        let index_buf = match fs::read(store.mdir.join(INDEX_FILE)) {
            Ok(buf) => match &store.skey {
                None => Ok(buf),
                Some(key) => match key.open(&buf) {
                    Some(plain) => Ok(plain),
                    None => {
                        tracing::warn!(stream = %name, "JetStream index.db cannot be decrypted, rebuilding from the blocks");
                        Err(io::Error::from(io::ErrorKind::NotFound))
                    }
                },
            },
            Err(e) => Err(e),
        };
        let from_index = match index_buf {
            Ok(buf) if !index::is_ours(&buf) => {
                tracing::info!(stream = %name, "JetStream index.db not written by rnats (nats-server's?), rebuilding from the blocks");
                None
            }
            Ok(buf) => match index::decode(&buf, index_key, &name) {
                Some(decoded) if decoded.matches(&files) => Some((decoded, false)),
                Some(decoded) if decoded.is_prefix_of(&files) => Some((decoded, true)),
                Some(_) => {
                    tracing::info!(stream = %name, "JetStream index.db is stale, rebuilding from the blocks");
                    None
                }
                None => {
                    tracing::warn!(stream = %name, "JetStream index.db is corrupt, rebuilding from the blocks");
                    None
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let rewrite = match from_index {
            Some((decoded, false)) => {
                store.install(decoded);
                false
            }
            Some((decoded, true)) => {
                // Written before a crash: only what was appended since is read.
                store.install(decoded);
                if !recover::catch_up(&mut store, &files)? {
                    tracing::info!(stream = %name, "JetStream index.db does not fit the blocks, rebuilding from them");
                    let FileStore {
                        dir,
                        mdir,
                        cfg,
                        skey,
                        keys,
                        ..
                    } = store;
                    store = FileStore::empty(&dir, mdir, cfg);
                    (store.skey, store.keys) = (skey, keys);
                    store.install(recover::rebuild(&store.mdir, &name, &files, &store.keys)?);
                }
                true
            }
            None => {
                store.install(recover::rebuild(&store.mdir, &name, &files, &store.keys)?);
                !files.is_empty()
            }
        };
        store.keys = HashMap::new();
        if rewrite && let Err(e) = store.write_index() {
            // The next open reads the blocks again; nothing is lost.
            tracing::warn!(stream = %name, error = %e, "JetStream could not write index.db");
        }
        Ok(store)
    }

    /// Refuses an encrypted store without a key; with a key, reads the
    /// stream's and the blocks' keys, encrypting plain blocks in place
    /// first (encryption turned on for a plain store, as nats-server
    /// does: `meta.key` is written last, so a conversion cut short is
    /// taken up again at the next open).
    fn setup_encryption(
        &mut self,
        files: &[(u32, u64)],
        key_files: &[u32],
        converted: &[u32],
    ) -> Result<(), StoreError> {
        let meta_key = self.dir.join(crypt::META_KEY_FILE);
        let Some(enc) = self.cfg.encryption.clone() else {
            if meta_key.exists() {
                tracing::warn!(stream = %self.cfg.name, "JetStream stream is encrypted but no key is configured");
                return Err(StoreError::Encryption(crypt::NO_MAIN_KEY));
            }
            return Ok(());
        };
        for index in key_files {
            if files.binary_search_by_key(index, |(i, _)| *i).is_err() {
                let _ = fs::remove_file(crypt::key_path(&self.mdir, *index));
            }
        }
        // Opened first: a wrong key is refused before anything is touched.
        enc.settle_stream_key(&self.dir, &self.cfg.name)?;
        let skey = enc.stream_key(&self.dir, &self.cfg.name, false);
        // A store written with the other cipher (a change of `cipher`) is
        // converted, as nats-server does.
        let mut old = None;
        let converting = match skey {
            Ok(Some(key)) => {
                self.skey = Some(key);
                false
            }
            Ok(None) => true,
            Err(StoreError::Encryption(crypt::KEY_INVALID))
                if matches!(
                    enc.with_cipher(enc.cipher().other()).stream_key(
                        &self.dir,
                        &self.cfg.name,
                        false
                    ),
                    Ok(Some(_))
                ) =>
            {
                tracing::info!(stream = %self.cfg.name, "JetStream converting the stream to the configured cipher");
                old = Some(enc.with_cipher(enc.cipher().other()));
                true
            }
            Err(e) => {
                tracing::warn!(stream = %self.cfg.name, "JetStream cannot open the stream's key: {e}");
                return Err(e);
            }
        };
        // A block converted to the new cipher but not yet in place: in
        // place when its new key file made it, else forgotten.
        for &index in converted {
            let tmp = self.mdir.join(format!("{index}{CONVERTED_SUFFIX}"));
            if matches!(
                enc.block_key(&self.mdir, &self.cfg.name, index),
                Ok(Some(_))
            ) {
                fs::rename(&tmp, block_path(&self.mdir, index))?;
                sync_dir(&self.mdir)?;
            } else {
                let _ = fs::remove_file(&tmp);
            }
        }
        if converting && !files.is_empty() {
            tracing::info!(stream = %self.cfg.name, "JetStream encrypting the blocks of a plain stream");
            let _ = fs::remove_file(self.mdir.join(INDEX_FILE));
        }
        for &(index, len) in files {
            let key = match enc.block_key(&self.mdir, &self.cfg.name, index) {
                Ok(Some(key)) => {
                    if converting && len > 0 {
                        self.encrypt_if_plain(index, &key)?;
                    }
                    key
                }
                Ok(None) => {
                    let (raw, _) = read_block(&self.mdir, index, None, Some(len))?;
                    if len > 0 && !self.looks_plain(index, &raw) {
                        // Neither plain nor openable: its records are
                        // reported lost when the blocks are read.
                        tracing::warn!(stream = %self.cfg.name, block = index, "JetStream encrypted block without its key file");
                        continue;
                    }
                    let key = enc.new_block_key(&self.mdir, &self.cfg.name, index, true)?;
                    if len > 0 {
                        rewrite_block(&self.mdir, index, Some(&key), &raw, false)?;
                    }
                    key
                }
                Err(StoreError::Encryption(crypt::KEY_INVALID)) if old.is_some() => {
                    self.convert_block(&enc, old.as_ref(), index, len)?
                }
                Err(e) => {
                    tracing::warn!(stream = %self.cfg.name, block = index, "JetStream cannot open a block's key: {e}");
                    return Err(e);
                }
            };
            self.keys.insert(index, key);
        }
        if let Some(old) = &old {
            self.convert_stream_key(&enc, old)?;
        }
        if self.skey.is_none() {
            self.skey = enc.stream_key(&self.dir, &self.cfg.name, true)?;
        }
        Ok(())
    }

    /// Re-encrypts block `index` from the `old` cipher to `enc`'s: the new
    /// bytes are written beside it (`<n>.blk.cnv`, fsynced), then its new
    /// key file, then they take the block's place; an open after a crash
    /// finishes or forgets the step by the key file.
    fn convert_block(
        &self,
        enc: &Encryption,
        old: Option<&Encryption>,
        index: u32,
        len: u64,
    ) -> Result<crypt::BlockKey, StoreError> {
        let old_key = old
            .map(|o| o.block_key(&self.mdir, &self.cfg.name, index))
            .transpose()?
            .flatten()
            .ok_or(StoreError::Encryption(crypt::KEY_INVALID))?;
        let (mut data, _) = read_block(&self.mdir, index, None, Some(len))?;
        old_key.apply(0, &mut data);
        let (key, key_file) = enc.new_block_key_unwritten(&self.cfg.name, index);
        key.apply(0, &mut data);
        let tmp = self.mdir.join(format!("{index}{CONVERTED_SUFFIX}"));
        let f = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all_at(&data, 0)?;
        f.sync_data()?;
        crypt::write_block_key(&self.mdir, index, &key_file)?;
        fs::rename(&tmp, block_path(&self.mdir, index))?;
        sync_dir(&self.mdir)?;
        Ok(key)
    }

    /// The stream's key after its blocks were converted: `meta.inf` sealed
    /// with a new key of the configured cipher (`meta.key.new`), which then
    /// replaces `meta.key` (see [`Encryption::settle_stream_key`]).
    fn convert_stream_key(&mut self, enc: &Encryption, old: &Encryption) -> Result<(), StoreError> {
        if self.dir.join(meta::META_FILE).exists() {
            let (json, _) = read_meta(&self.dir, Some(old))?;
            let new = enc.new_stream_key(&self.dir, &self.cfg.name)?;
            meta::write_meta_with(&self.dir, &json, Some(&new))?;
            enc.settle_stream_key(&self.dir, &self.cfg.name)?;
        } else {
            fs::remove_file(self.dir.join(crypt::META_KEY_FILE))?;
        }
        Ok(())
    }

    /// A block whose key file exists but whose bytes are still plain (a
    /// conversion cut short between the two) is encrypted now.
    fn encrypt_if_plain(&self, index: u32, key: &crypt::BlockKey) -> Result<(), StoreError> {
        let (raw, _) = read_block(&self.mdir, index, None, Some(u64::MAX))?;
        let mut dec = raw.clone();
        key.apply(0, &mut dec);
        if !self.looks_plain(index, &dec) && self.looks_plain(index, &raw) {
            rewrite_block(&self.mdir, index, Some(key), &raw, false)?;
        }
        Ok(())
    }

    /// Whether `buf` is plain block `index`: compressed, or its first
    /// record verifies.
    fn looks_plain(&self, index: u32, buf: &[u8]) -> bool {
        let bkey = block::block_key(&self.cfg.name, index);
        compress::is_compressed(buf) || block::parse(buf, 0).is_some_and(|r| r.verify(bkey))
    }

    fn empty(dir: &Path, mdir: PathBuf, cfg: FileStoreConfig) -> FileStore {
        FileStore {
            dir: dir.to_path_buf(),
            mdir,
            cfg,
            blocks: Vec::new(),
            wfile: None,
            cache: Vec::new(),
            subjects: HashMap::new(),
            ttls: BTreeSet::new(),
            ttl_of: HashMap::new(),
            state: StoreState::default(),
            flushed: (0, 0),
            pending_tombs: Vec::new(),
            pending_skip: None,
            unsynced: Vec::new(),
            unsynced_keys: Vec::new(),
            reap_due: true,
            scratch: Vec::new(),
            skey: None,
            keys: HashMap::new(),
            compress_due: Vec::new(),
            compressing: Vec::new(),
            dir_unsynced: false,
            ebuf: Vec::new(),
        }
    }

    /// The store-wide bookkeeping of a message just added to the last block.
    fn count_new(&mut self, seq: u64, subject: &[u8], time: i64, ttl: i64, len: u64) {
        match self.subjects.get_mut(subject) {
            Some(per) => {
                per.msgs += 1;
                per.last = seq;
                per.last_stale = false;
            }
            None => {
                self.subjects.insert(
                    Bytes::copy_from_slice(subject),
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
        if ttl > 0 {
            let expiry = time.saturating_add(ttl.saturating_mul(1_000_000_000));
            self.ttls.insert((expiry, seq));
            self.ttl_of.insert(seq, expiry);
        }
        if self.state.msgs == 0 {
            self.state.first_seq = seq;
            self.state.first_time = time;
        }
        self.state.msgs += 1;
        self.state.bytes += len;
        self.state.last_seq = seq;
        self.state.last_time = time;
    }

    fn install(&mut self, d: index::Decoded) {
        self.blocks = d.blocks;
        for b in &mut self.blocks {
            b.crypt = self.keys.get(&b.index).cloned();
        }
        self.subjects = d.subjects;
        for (expiry, seq) in d.ttls {
            self.ttls.insert((expiry, seq));
            self.ttl_of.insert(seq, expiry);
        }
        let mut state = StoreState {
            last_seq: d.last_seq,
            last_time: d.last_time,
            ..StoreState::default()
        };
        for b in &self.blocks {
            state.msgs += b.msgs;
            state.bytes += b.bytes;
        }
        state.first_seq = match self.blocks.iter().find(|b| b.msgs > 0) {
            Some(b) => {
                state.first_time = d.first_time;
                b.first
            }
            None if state.last_seq == 0 => 0,
            None => state.last_seq + 1,
        };
        self.state = state;
        self.flushed = (state.last_seq, state.last_time);
    }

    fn find_block(&self, seq: u64) -> Option<usize> {
        let i = self.blocks.partition_point(|b| b.rec_last < seq);
        (i < self.blocks.len() && self.blocks[i].rec_first <= seq).then_some(i)
    }

    /// Makes sure the last block has room for `len` more bytes, starting a
    /// new one when not (or when `msg_seq` would leave a gap in it).
    fn ensure_room(&mut self, len: usize, msg_seq: Option<u64>) -> Result<(), StoreError> {
        let roll = match self.blocks.last() {
            None => true,
            Some(b) => {
                b.disk.is_some()
                    || (b.size() > 0 && b.size() + len as u64 > self.cfg.block_size)
                    || msg_seq.is_some_and(|seq| b.has_recs() && b.rec_last + 1 != seq)
            }
        };
        if roll {
            self.new_block(msg_seq.is_none())?;
        }
        Ok(())
    }

    /// Starts a new last block. One that starts with something other than
    /// a message first remembers the last sequence (a skip marker), so the
    /// blocks before it may be deleted.
    fn new_block(&mut self, with_skip: bool) -> Result<(), StoreError> {
        let index = match self.blocks.last() {
            Some(b) => b
                .index
                .checked_add(1)
                .ok_or_else(|| StoreError::Corrupt("block numbers exhausted".into()))?,
            None => 1,
        };
        let mut b = Block::new(&self.cfg.name, index, self.state.last_seq + 1);
        if let Some(enc) = &self.cfg.encryption {
            // On the disk no later than the block's first bytes: with
            // `sync_always` now, else at the next `sync_to_disk`, which
            // syncs it before the blocks (a block whose key was lost could
            // never be read again).
            let sync = self.cfg.sync_always;
            b.crypt = Some(enc.new_block_key(&self.mdir, &self.cfg.name, index, sync)?);
            if sync {
                sync_dir(&self.mdir)?;
            } else {
                self.unsynced_keys.push(index);
            }
        }
        if self.cfg.compress
            && let Some(prev) = self.blocks.last()
            && prev.disk.is_none()
        {
            self.compress_due.push(prev.index);
        }
        if with_skip && self.state.last_seq > 0 {
            block::encode(
                &mut b.wbuf,
                b.key,
                self.state.last_seq | EBIT,
                self.state.last_time,
                b"",
                b"",
                b"",
            );
        }
        self.blocks.push(b);
        Ok(())
    }

    /// Appends a record that is not a message (tombstone, skip) to the last
    /// block.
    fn write_marker(&mut self, raw_seq: u64, ts: i64) -> Result<(), StoreError> {
        self.ensure_room(EMPTY_RECORD, None)?;
        let Some(b) = self.blocks.last_mut() else {
            return Err(StoreError::Corrupt("no block to write to".into()));
        };
        let start = b.wbuf.len();
        block::encode(&mut b.wbuf, b.key, raw_seq, ts, b"", b"", b"");
        if raw_seq & TBIT != 0 {
            b.note_tombstone(raw_seq & !TBIT);
        }
        if let Some(c) = self.cache.iter_mut().find(|c| c.index == b.index) {
            c.push_records(&b.wbuf[start..]);
        }
        Ok(())
    }

    fn write_tombstone(&mut self, seq: u64, ts: i64) -> Result<(), StoreError> {
        self.write_marker(seq | TBIT, ts)?;
        self.pending_tombs.push((seq, ts));
        Ok(())
    }

    /// The record of live message `seq`: (block position, cache position,
    /// offset).
    fn locate(&mut self, seq: u64) -> Result<(usize, usize, usize), StoreError> {
        let pos = self.find_block(seq).ok_or(StoreError::NotFound)?;
        let b = &self.blocks[pos];
        if !b.is_live(seq) {
            return Err(StoreError::NotFound);
        }
        let ci = load_block(&mut self.cache, &self.mdir, b)?;
        match self.cache[ci].offset(seq) {
            Some(at) => Ok((pos, ci, at)),
            None => {
                tracing::warn!(stream = %self.cfg.name, block = b.index, seq, "JetStream message missing from its block");
                Err(StoreError::Corrupt(format!(
                    "message {seq} missing from block {}",
                    b.index
                )))
            }
        }
    }

    /// Reads live message `seq` without verifying it: its subject goes to
    /// `self.scratch`; returns (block position, time, record length).
    fn peek(&mut self, seq: u64) -> Result<(usize, i64, u64, usize), StoreError> {
        let (pos, ci, at) = self.locate(seq)?;
        let rec = block::parse(&self.cache[ci].data, at)
            .filter(|r| r.seq() == seq)
            .ok_or_else(|| StoreError::Corrupt(format!("message {seq} unreadable")))?;
        self.scratch.clear();
        self.scratch.extend_from_slice(rec.subject);
        Ok((pos, rec.ts, rec.len as u64, at))
    }

    /// Forgets live message `seq` whose record cannot be read (a corrupt
    /// block): a stream must still be able to remove it (its limits would
    /// otherwise stop at it). Its subject and size are unknown, so only the
    /// counts of messages move.
    fn forget_unreadable(&mut self, seq: u64) -> Option<usize> {
        let pos = self.find_block(seq)?;
        let b = &mut self.blocks[pos];
        if !b.is_live(seq) {
            return None;
        }
        tracing::warn!(stream = %self.cfg.name, block = b.index, seq, "JetStream removing a message whose record is unreadable");
        b.drop_seq(seq);
        b.msgs = b.msgs.saturating_sub(1);
        if b.msgs == 0 {
            self.reap_due = true;
        }
        self.state.msgs = self.state.msgs.saturating_sub(1);
        if let Some(expiry) = self.ttl_of.remove(&seq) {
            self.ttls.remove(&(expiry, seq));
        }
        Some(pos)
    }

    /// Forgets live message `seq` (whose subject is in `subject`).
    fn take(&mut self, pos: usize, seq: u64, subject: &[u8], rl: u64) {
        // Saturating: counts come from disk, and a wrong one must not panic.
        let b = &mut self.blocks[pos];
        b.drop_seq(seq);
        b.msgs = b.msgs.saturating_sub(1);
        b.bytes = b.bytes.saturating_sub(rl);
        if b.msgs == 0 {
            self.reap_due = true;
        }
        self.state.msgs = self.state.msgs.saturating_sub(1);
        self.state.bytes = self.state.bytes.saturating_sub(rl);
        if let Some(expiry) = self.ttl_of.remove(&seq) {
            self.ttls.remove(&(expiry, seq));
        }
        if let Some(per) = self.subjects.get_mut(subject) {
            per.msgs = per.msgs.saturating_sub(1);
            if per.msgs == 0 {
                self.subjects.remove(subject);
            } else {
                if per.first == seq {
                    per.first_stale = true;
                }
                if per.last == seq {
                    per.last_stale = true;
                }
                // One message left (a KV key's history of one): it is both
                // ends, no walk needed to find it.
                if per.msgs == 1 {
                    if per.first_stale && !per.last_stale {
                        per.first = per.last;
                        per.first_stale = false;
                    } else if per.last_stale && !per.first_stale {
                        per.last = per.first;
                        per.last_stale = false;
                    }
                }
            }
        }
    }

    /// Keeps `first_seq` and `first_time` true after removals.
    fn fix_first(&mut self) {
        let Some(pos) = self.blocks.iter().position(|b| b.msgs > 0) else {
            self.state.first_seq = self.state.last_seq + 1;
            self.state.first_time = 0;
            return;
        };
        let first = self.blocks[pos].first;
        if first == self.state.first_seq {
            return;
        }
        self.state.first_seq = first;
        self.state.first_time = match self.peek(first) {
            Ok((_, ts, _, _)) => ts,
            Err(e) => {
                tracing::warn!(stream = %self.cfg.name, seq = first, error = %e, "JetStream first message unreadable");
                0
            }
        };
    }

    /// Calls `f` on each live message from `from` to `to` (ascending, or
    /// descending when `rev`) until it returns false.
    fn scan(
        &mut self,
        from: u64,
        to: u64,
        rev: bool,
        mut f: impl FnMut(u64, &Record<'_>) -> bool,
    ) -> Result<(), StoreError> {
        if from > to {
            return Ok(());
        }
        let lo = self.blocks.partition_point(|b| b.rec_last < from);
        let hi = self.blocks.partition_point(|b| b.rec_first <= to);
        let mut order: Box<dyn Iterator<Item = usize>> = if rev {
            Box::new((lo..hi).rev())
        } else {
            Box::new(lo..hi)
        };
        order
            .try_for_each(|pos| -> Result<(), StoreError> {
                let b = &self.blocks[pos];
                let (start, end) = (from.max(b.first), to.min(b.rec_last));
                if b.msgs == 0 || start > end {
                    return Ok(());
                }
                let ci = load_block(&mut self.cache, &self.mdir, b)?;
                let c = &self.cache[ci];
                let mut visit = |seq: u64| -> bool {
                    if b.dmap.contains(&seq) {
                        return true;
                    }
                    let Some(rec) = c
                        .offset(seq)
                        .and_then(|at| block::parse(&c.data, at))
                        .filter(|r| r.seq() == seq)
                    else {
                        return true;
                    };
                    f(seq, &rec)
                };
                let go = if rev {
                    (start..=end).rev().all(&mut visit)
                } else {
                    (start..=end).all(&mut visit)
                };
                if go {
                    Ok(())
                } else {
                    Err(StoreError::NotFound)
                }
            })
            .or_else(|e| match e {
                StoreError::NotFound => Ok(()),
                e => Err(e),
            })
    }

    /// The subject's entry with `first`/`last` found again if stale.
    fn per_subject(&mut self, subject: &[u8]) -> Result<Option<PerSubject>, StoreError> {
        let Some(mut per) = self.subjects.get(subject).copied() else {
            return Ok(None);
        };
        if per.first_stale {
            let mut found = None;
            self.scan(per.first, per.last, false, |seq, rec| {
                if rec.subject == subject {
                    found = Some(seq);
                }
                found.is_none()
            })?;
            if let Some(seq) = found {
                per.first = seq;
                per.first_stale = false;
            }
        }
        if per.last_stale {
            let mut found = None;
            self.scan(per.first, per.last, true, |seq, rec| {
                if rec.subject == subject {
                    found = Some(seq);
                }
                found.is_none()
            })?;
            if let Some(seq) = found {
                per.last = seq;
                per.last_stale = false;
            }
        }
        if let Some(p) = self.subjects.get_mut(subject) {
            *p = per;
        }
        Ok(Some(per))
    }

    /// Which blocks may be deleted: those with no live message whose
    /// tombstones name no message of a block that stays. The last block
    /// only when `last_too`.
    fn reap_plan(&self, last_too: bool) -> Vec<bool> {
        let n = self.blocks.len();
        let mut plan = vec![false; n];
        let mut stays_max = 0u64;
        for (i, b) in self.blocks.iter().enumerate() {
            let ok =
                b.msgs == 0 && (last_too || i + 1 < n) && (b.tomb_lo == 0 || stays_max < b.tomb_lo);
            if ok {
                plan[i] = true;
            } else {
                stays_max = stays_max.max(b.rec_last);
            }
        }
        plan
    }

    /// Makes the removal of the messages in `removed` (block index, seq,
    /// time) durable at the next flush: blocks left empty are deleted then
    /// (an empty last block is first replaced by a new one remembering the
    /// last sequence); the others get tombstones.
    fn settle_removals(&mut self, removed: &[(u32, u64, i64)]) -> Result<(), StoreError> {
        let plan = self.reap_plan(true);
        let doomed: BTreeSet<u32> = self
            .blocks
            .iter()
            .zip(&plan)
            .filter(|(_, ok)| **ok)
            .map(|(b, _)| b.index)
            .collect();
        if plan.last() == Some(&true) {
            self.new_block(true)?;
        }
        for &(index, seq, ts) in removed {
            if !doomed.contains(&index) {
                self.write_tombstone(seq, ts)?;
            }
        }
        self.fix_first();
        Ok(())
    }

    /// Removes the live messages among `seqs` (ascending).
    fn remove_many(&mut self, seqs: &[u64]) -> Result<u64, StoreError> {
        let mut removed = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            let (pos, ts, rl, _) = match self.peek(seq) {
                Ok(found) => found,
                Err(StoreError::NotFound) => continue,
                Err(StoreError::Corrupt(_)) => {
                    if let Some(pos) = self.forget_unreadable(seq) {
                        removed.push((self.blocks[pos].index, seq, 0));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let subject = std::mem::take(&mut self.scratch);
            self.take(pos, seq, &subject, rl);
            self.scratch = subject;
            removed.push((self.blocks[pos].index, seq, ts));
        }
        self.settle_removals(&removed)?;
        Ok(removed.len() as u64)
    }

    fn purge_all(&mut self) -> Result<u64, StoreError> {
        let removed = self.state.msgs;
        if removed == 0 {
            return Ok(0);
        }
        for b in &mut self.blocks {
            b.msgs = 0;
            b.bytes = 0;
            b.first = b.rec_last + 1;
            b.dmap.clear();
        }
        self.reap_due = true;
        self.subjects = HashMap::new();
        self.ttls.clear();
        self.ttl_of = HashMap::new();
        self.state.msgs = 0;
        self.state.bytes = 0;
        if !self.blocks.is_empty() {
            self.settle_removals(&[])?;
        }
        self.fix_first();
        Ok(removed)
    }

    /// Writes block `pos`'s buffer at its end on disk.
    fn write_block(&mut self, pos: usize) -> io::Result<()> {
        let last = pos + 1 == self.blocks.len();
        let index = self.blocks[pos].index;
        let mut other = None;
        if !matches!(&self.wfile, Some((i, _)) if *i == index) {
            let f = private_file()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(block_path(&self.mdir, index))?;
            if last {
                self.wfile = Some((index, f));
            } else {
                other = Some(f);
            }
        }
        let file = match (&other, &self.wfile) {
            (Some(f), _) => f,
            (None, Some((_, f))) => f,
            (None, None) => return Err(io::Error::other("no block file")),
        };
        let b = &self.blocks[pos];
        match &b.crypt {
            Some(key) => {
                let mut ebuf = std::mem::take(&mut self.ebuf);
                ebuf.clear();
                ebuf.extend_from_slice(&b.wbuf);
                key.apply(b.len, &mut ebuf);
                let wrote = file.write_all_at(&ebuf, b.len);
                if ebuf.capacity() > KEEP_WRITE_CAPACITY {
                    ebuf = Vec::new();
                }
                self.ebuf = ebuf;
                wrote?;
            }
            None => file.write_all_at(&b.wbuf, b.len)?,
        }
        if self.cfg.sync_always {
            file.sync_data()?;
            if b.len == 0 {
                sync_dir(&self.mdir)?;
            }
        } else if self.unsynced.last() != Some(&b.index) {
            self.unsynced.push(b.index);
        }
        Ok(())
    }

    /// Once every block of a flush is written: their buffers are on disk.
    fn written(&mut self, from: usize) {
        for b in &mut self.blocks[from..] {
            b.len += b.wbuf.len() as u64;
            b.wbuf.clear();
            if b.wbuf.capacity() > KEEP_WRITE_CAPACITY {
                b.wbuf.shrink_to(KEEP_WRITE_CAPACITY / 4);
            }
        }
    }

    /// After a failed write: the blocks go back to what was flushed before
    /// (`len`: a block of the same flush that was written is cut back too),
    /// the messages appended since are forgotten, and the removals since
    /// stay pending. `start` is the first block the flush wrote to.
    fn write_failed(&mut self, e: io::Error, start: usize) -> StoreError {
        tracing::warn!(stream = %self.cfg.name, error = %e, "JetStream store write failed; unflushed messages dropped");
        let durable = self.flushed.0;
        // Forget the unflushed messages, newest first.
        let mut undo: Vec<(usize, u64, Vec<u8>, u64)> = Vec::new();
        for pos in start..self.blocks.len() {
            let b = &self.blocks[pos];
            let mut at = 0;
            while let Some(rec) = block::parse(&b.wbuf, at) {
                if rec.is_message() && rec.seq() > durable && b.is_live(rec.seq()) {
                    undo.push((pos, rec.seq(), rec.subject.to_vec(), rec.len as u64));
                }
                at += rec.len;
            }
        }
        for (pos, seq, subject, rl) in undo.into_iter().rev() {
            self.take(pos, seq, &subject, rl);
        }
        // Cut the files back.
        for pos in (start..self.blocks.len()).rev() {
            let index = self.blocks[pos].index;
            self.cache.retain(|c| c.index != index);
            let path = block_path(&self.mdir, index);
            if self.blocks[pos].len == 0 {
                if self.wfile.as_ref().is_some_and(|(i, _)| *i == index) {
                    self.wfile = None;
                }
                if let Err(e) = fs::remove_file(&path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "JetStream could not remove a block");
                }
                if self.blocks[pos].crypt.is_some() {
                    let _ = fs::remove_file(crypt::key_path(&self.mdir, index));
                }
                self.blocks.remove(pos);
                continue;
            }
            let b = &mut self.blocks[pos];
            b.wbuf.clear();
            let cut = OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(b.len));
            if let Err(e) = cut {
                tracing::warn!(path = %path.display(), error = %e, "JetStream could not truncate a block");
            }
            if b.rec_first > durable {
                b.rec_first = durable + 1;
            }
            b.rec_last = b.rec_last.min(durable);
            let rec_last = b.rec_last;
            b.dmap.retain(|s| *s <= rec_last);
            if b.first > b.rec_last {
                b.first = b.rec_last + 1;
            }
        }
        self.state.last_seq = durable;
        self.state.last_time = self.flushed.1;
        // A block emptied by a purge was to be deleted once a new block
        // had taken over; if that new block is what was just dropped, start
        // it again (else the emptied block, last again, would stay).
        if self
            .blocks
            .last()
            .is_some_and(|b| b.msgs == 0 && b.has_recs())
            && self.new_block(true).is_ok()
        {
            self.reap_due = true;
        }
        // Write the removals (and a purge's skip) again.
        let tombs = std::mem::take(&mut self.pending_tombs);
        for (seq, ts) in tombs {
            if seq <= durable && self.write_tombstone(seq, ts).is_err() {
                break;
            }
        }
        if let Some((seq, ts)) = self.pending_skip.take() {
            self.state.last_seq = seq;
            self.state.last_time = ts;
            let _ = self.write_skip(seq, ts);
        }
        self.fix_first();
        if is_out_of_space(&e) {
            StoreError::InsufficientResources
        } else {
            StoreError::Io(e)
        }
    }

    /// Fsyncs the block key files written since the last sync.
    fn sync_keys(&mut self) -> Result<(), StoreError> {
        let keys = std::mem::take(&mut self.unsynced_keys);
        for index in &keys {
            match File::open(crypt::key_path(&self.mdir, *index)).and_then(|f| f.sync_all()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.unsynced_keys = keys;
                    return Err(e.into());
                }
            }
        }
        if !keys.is_empty() {
            sync_dir(&self.mdir)?;
        }
        Ok(())
    }

    /// Starts compressing the blocks sealed since the last flush
    /// (nats-server compresses a block when a new one takes over), each on
    /// a thread of its own, so no append waits for it.
    fn compress_sealed(&mut self) {
        let last = self.blocks.last().map(|b| b.index);
        let due = std::mem::take(&mut self.compress_due);
        for (n, &index) in due.iter().enumerate() {
            if self.compressing.len() >= MAX_COMPRESSING {
                // The rest wait for a later flush.
                self.compress_due.extend_from_slice(&due[n..]);
                break;
            }
            let Some(b) = self.blocks.iter().find(|b| b.index == index) else {
                continue;
            };
            if Some(index) == last
                || b.disk.is_some()
                || !b.wbuf.is_empty()
                || b.len == 0
                || self.compressing.iter().any(|c| c.index == index)
            {
                continue;
            }
            let (mdir, key, len) = (self.mdir.clone(), b.crypt.clone(), b.len);
            let spawned = std::thread::Builder::new()
                .name("rnats-js-compress".into())
                .spawn(move || compress_copy(&mdir, index, key.as_ref(), len));
            match spawned {
                Ok(handle) => self.compressing.push(Compressing {
                    index,
                    generation: b.generation,
                    len,
                    handle,
                }),
                Err(e) => {
                    tracing::warn!(stream = %self.cfg.name, block = index, error = %e, "JetStream could not start compressing a block");
                }
            }
        }
    }

    /// Puts the compressed copies made since in place of their blocks
    /// (rename, directory sync), unless the block changed or went in the
    /// meantime; with `wait`, waits for those still being made.
    fn collect_compressed(&mut self, wait: bool) {
        let mut i = 0;
        while i < self.compressing.len() {
            if !wait && !self.compressing[i].handle.is_finished() {
                i += 1;
                continue;
            }
            let job = self.compressing.swap_remove(i);
            let made = match job.handle.join() {
                Ok(Ok(made)) => made,
                Ok(Err(e)) => {
                    tracing::warn!(stream = %self.cfg.name, block = job.index, error = %e, "JetStream could not compress a block");
                    None
                }
                Err(_) => None,
            };
            let Some((tmp, disk)) = made else { continue };
            let pos = self.blocks.iter().position(|b| b.index == job.index);
            let current = pos.is_some_and(|p| {
                let b = &self.blocks[p];
                b.generation == job.generation && b.len == job.len && b.disk.is_none()
            });
            // The copy is fsynced; the rename is made durable by the next
            // `sync_to_disk` (until then a crash leaves either file, each a
            // whole block), so no flush waits for a directory sync.
            let placed = current && fs::rename(&tmp, block_path(&self.mdir, job.index)).is_ok();
            match pos {
                Some(p) if placed => {
                    self.blocks[p].disk = Some(disk);
                    if self.wfile.as_ref().is_some_and(|(i, _)| *i == job.index) {
                        self.wfile = None;
                    }
                    self.dir_unsynced = true;
                }
                _ => {
                    let _ = fs::remove_file(&tmp);
                    if pos.is_some_and(|p| self.blocks[p].disk.is_none()) {
                        self.compress_due.push(job.index);
                    }
                }
            }
        }
    }

    fn write_skip(&mut self, seq: u64, ts: i64) -> Result<(), StoreError> {
        self.write_marker(seq | EBIT, ts)?;
        self.pending_skip = Some((seq, ts));
        Ok(())
    }

    /// Deletes the blocks [`Self::reap_plan`] allows, oldest first.
    fn reap(&mut self) {
        let plan = self.reap_plan(false);
        if !plan.contains(&true) {
            return;
        }
        let mut gone = BTreeSet::new();
        for (b, ok) in self.blocks.iter().zip(&plan) {
            if !ok {
                continue;
            }
            let path = block_path(&self.mdir, b.index);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "JetStream could not remove an empty block");
                    break;
                }
            }
            if b.crypt.is_some() {
                let _ = fs::remove_file(crypt::key_path(&self.mdir, b.index));
            }
            gone.insert(b.index);
        }
        self.blocks.retain(|b| !gone.contains(&b.index));
        self.cache.retain(|c| !gone.contains(&c.index));
        self.unsynced.retain(|i| !gone.contains(i));
        if self.cfg.sync_always
            && let Err(e) = sync_dir(&self.mdir)
        {
            tracing::warn!(error = %e, "JetStream could not sync the store directory");
        }
    }

    /// Writes `index.db` (atomically: a temporary file renamed over it).
    fn write_index(&mut self) -> Result<(), StoreError> {
        let key = block::key_of(self.cfg.name.as_bytes());
        let mut buf = index::encode(self, key);
        if let Some(skey) = &self.skey {
            buf = skey.seal(&buf);
        }
        let tmp = self.mdir.join("index.db.tmp");
        let result = (|| -> io::Result<()> {
            let f = private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all_at(&buf, 0)?;
            f.sync_data()?;
            fs::rename(&tmp, self.mdir.join(INDEX_FILE))?;
            sync_dir(&self.mdir)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(if is_out_of_space(&e) {
                StoreError::InsufficientResources
            } else {
                StoreError::Io(e)
            });
        }
        Ok(())
    }

    fn msg_at(&mut self, seq: u64) -> Result<StoredMsg, StoreError> {
        let (pos, ci, at) = self.locate(seq)?;
        let key = self.blocks[pos].key;
        let c = &self.cache[ci];
        let Some(rec) = block::parse(&c.data, at).filter(|r| r.seq() == seq && r.verify(key))
        else {
            tracing::warn!(stream = %self.cfg.name, block = c.index, seq, "JetStream message fails its checksum, not served");
            return Err(StoreError::Corrupt(format!(
                "message {seq} fails its checksum"
            )));
        };
        let mut buf =
            BytesMut::with_capacity(rec.subject.len() + rec.headers.len() + rec.payload.len());
        buf.extend_from_slice(rec.subject);
        buf.extend_from_slice(rec.headers);
        buf.extend_from_slice(rec.payload);
        let mut buf = buf.freeze();
        let subject = buf.split_to(rec.subject.len());
        let headers = buf.split_to(rec.headers.len());
        Ok(StoredMsg {
            seq,
            subject,
            headers,
            payload: buf,
            time: rec.ts,
        })
    }

    /// Overwrites the record of `seq` at `at` in block `pos` (on disk or
    /// in the write buffer) with an erased record of the same length.
    fn erase(&mut self, pos: usize, seq: u64, at: usize, rl: usize) -> Result<(), StoreError> {
        let mut filler = vec![0u8; rl - EMPTY_RECORD];
        rand::Rng::fill(&mut rand::rng(), &mut filler[..]);
        let b = &mut self.blocks[pos];
        b.generation = b.generation.wrapping_add(1);
        let rec = block::encode_erased(b.key, seq, &filler);
        if (at as u64) >= b.len {
            let i = at - b.len as usize;
            b.wbuf[i..i + rl].copy_from_slice(&rec);
        } else if b.disk.is_some() {
            // A compressed block is rewritten whole.
            let (mut plain, _) = read_block(&self.mdir, b.index, b.crypt.as_ref(), None)?;
            let Some(dst) = plain.get_mut(at..at + rl) else {
                return Err(StoreError::Corrupt(format!(
                    "message {seq} outside its block"
                )));
            };
            dst.copy_from_slice(&rec);
            b.disk = rewrite_block(&self.mdir, b.index, b.crypt.as_ref(), &plain, true)?;
        } else {
            let mut rec = rec.clone();
            if let Some(key) = &b.crypt {
                key.apply(at as u64, &mut rec);
            }
            let f = OpenOptions::new()
                .write(true)
                .open(block_path(&self.mdir, b.index))?;
            f.write_all_at(&rec, at as u64)?;
            if self.cfg.sync_always {
                f.sync_data()?;
            } else {
                self.unsynced.push(b.index);
            }
        }
        if let Some(c) = self.cache.iter_mut().find(|c| c.index == b.index)
            && let Some(dst) = c.data.get_mut(at..at + rl)
        {
            dst.copy_from_slice(&rec);
        }
        Ok(())
    }
}

/// A message's own TTL from its `Nats-TTL` header, in seconds (0 for none,
/// as for "never" or a value nats-server would refuse).
pub(crate) fn ttl_from_headers(headers: &[u8]) -> i64 {
    for line in headers.split(|b| *b == b'\n') {
        let Some(value) = line.strip_prefix(b"Nats-TTL:") else {
            continue;
        };
        let Ok(value) = std::str::from_utf8(value) else {
            return 0;
        };
        let value = value.trim();
        if value.eq_ignore_ascii_case("never") {
            return 0;
        }
        if let Ok(secs) = value.parse::<i64>() {
            return secs.max(0);
        }
        return go_duration_secs(value).unwrap_or(0);
    }
    0
}

/// Whole seconds of a Go duration ("90s", "1h30m", "1.5m"); None when not
/// one or under a second.
fn go_duration_secs(s: &str) -> Option<i64> {
    let mut rest = s;
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += n * scale;
        rest = &rest[unit_end..];
    }
    (nanos >= 1e9).then_some((nanos / 1e9) as i64)
}

impl Store for FileStore {
    fn append(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        payload: &[u8],
        time: i64,
        ttl: i64,
    ) -> Result<u64, StoreError> {
        let len = block::record_len(subject.len(), headers.len(), payload.len());
        if len > MAX_RECORD || subject.len() > u16::MAX as usize {
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "message too large for the store",
            )));
        }
        let seq = self.state.last_seq + 1;
        if seq > MAX_SEQ {
            return Err(StoreError::InsufficientResources);
        }
        self.ensure_room(len, Some(seq))?;
        let Some(b) = self.blocks.last_mut() else {
            return Err(StoreError::Corrupt("no block to write to".into()));
        };
        let start = b.wbuf.len();
        block::encode(&mut b.wbuf, b.key, seq, time, subject, headers, payload);
        if !b.has_recs() {
            b.rec_first = seq;
            b.first = seq;
        }
        b.rec_last = seq;
        b.msgs += 1;
        b.bytes += len as u64;
        if let Some(c) = self.cache.iter_mut().find(|c| c.index == b.index) {
            c.push_records(&b.wbuf[start..]);
        }
        self.count_new(seq, subject, time, ttl, len as u64);
        Ok(seq)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let start = self
            .blocks
            .iter()
            .rposition(|b| b.wbuf.is_empty())
            .map_or(0, |i| i + 1);
        let wrote = start < self.blocks.len();
        for pos in start..self.blocks.len() {
            if let Err(e) = self.write_block(pos) {
                return Err(self.write_failed(e, start));
            }
        }
        self.written(start);
        self.flushed = (self.state.last_seq, self.state.last_time);
        self.pending_tombs.clear();
        self.pending_skip = None;
        if wrote || self.reap_due {
            self.reap_due = false;
            self.reap();
        }
        if !self.compressing.is_empty() {
            self.collect_compressed(false);
        }
        if !self.compress_due.is_empty() {
            self.compress_sealed();
        }
        Ok(())
    }

    fn sync_to_disk(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.sync_keys()?;
        if std::mem::take(&mut self.dir_unsynced) {
            sync_dir(&self.mdir)?;
        }
        for index in std::mem::take(&mut self.unsynced) {
            let path = block_path(&self.mdir, index);
            match File::open(&path).and_then(|f| f.sync_data()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The periodic sync is also when blocks read a while ago and the
        // open block file are let go (a server with a thousand idle
        // streams holds no descriptors for them).
        self.cache = Vec::new();
        self.wfile = None;
        self.write_index()
    }

    fn get(&mut self, seq: u64) -> Result<StoredMsg, StoreError> {
        self.msg_at(seq)
    }

    fn next_matching(&mut self, start: u64, filter: &str) -> Result<StoredMsg, StoreError> {
        let (from, to, literal) =
            if !filter.is_empty() && rnats_proto::subject::is_literal(filter.as_bytes()) {
                let per = self
                    .per_subject(filter.as_bytes())?
                    .ok_or(StoreError::NotFound)?;
                (start.max(per.first), per.last, true)
            } else {
                (start.max(self.state.first_seq), self.state.last_seq, false)
            };
        let mut found = None;
        self.scan(from, to, false, |seq, rec| {
            let hit = if literal {
                rec.subject == filter.as_bytes()
            } else {
                filter_matches(filter, rec.subject)
            };
            if hit {
                found = Some(seq);
            }
            !hit
        })?;
        self.msg_at(found.ok_or(StoreError::NotFound)?)
    }

    fn last_matching(&mut self, filter: &str) -> Result<StoredMsg, StoreError> {
        if !filter.is_empty() && rnats_proto::subject::is_literal(filter.as_bytes()) {
            let per = self
                .per_subject(filter.as_bytes())?
                .ok_or(StoreError::NotFound)?;
            return self.msg_at(per.last);
        }
        let mut found = None;
        self.scan(
            self.state.first_seq,
            self.state.last_seq,
            true,
            |seq, rec| {
                let hit = filter_matches(filter, rec.subject);
                if hit {
                    found = Some(seq);
                }
                !hit
            },
        )?;
        self.msg_at(found.ok_or(StoreError::NotFound)?)
    }

    fn remove(&mut self, seq: u64, erase: bool) -> Result<bool, StoreError> {
        let (pos, ts, rl, at) = match self.peek(seq) {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Ok(false),
            Err(StoreError::Corrupt(_)) => {
                if self.forget_unreadable(seq).is_none() {
                    return Ok(false);
                }
                self.write_tombstone(seq, 0)?;
                self.fix_first();
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        if erase {
            self.erase(pos, seq, at, rl as usize)?;
        }
        let subject = std::mem::take(&mut self.scratch);
        self.take(pos, seq, &subject, rl);
        self.scratch = subject;
        self.write_tombstone(seq, ts)?;
        self.fix_first();
        if erase {
            // The overwrite is already on disk: its tombstone goes too, so
            // that an index.db written before never counts the erased
            // record as a message.
            self.flush()?;
        }
        Ok(true)
    }

    fn purge(&mut self, purge: &Purge) -> Result<u64, StoreError> {
        if purge.seq.is_some_and(|s| s > MAX_SEQ) {
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "sequence too large",
            )));
        }
        let filter = purge.filter.as_deref().unwrap_or("");
        let all = filter.is_empty() || filter == ">";
        let removed =
            if all && purge.keep.is_none() && purge.seq.is_none_or(|s| s > self.state.last_seq) {
                self.purge_all()?
            } else {
                let mut seqs = Vec::new();
                let (first, last) = (self.state.first_seq, self.state.last_seq);
                self.scan(first, last, false, |seq, rec| {
                    if all || filter_matches(filter, rec.subject) {
                        seqs.push(seq);
                    }
                    true
                })?;
                if let Some(below) = purge.seq {
                    seqs.retain(|s| *s < below);
                } else if let Some(keep) = purge.keep {
                    let keep = usize::try_from(keep).unwrap_or(usize::MAX).min(seqs.len());
                    seqs.truncate(seqs.len() - keep);
                }
                self.remove_many(&seqs)?
            };
        if all
            && let Some(next) = purge.seq
            && next > self.state.last_seq + 1
        {
            // Purged up to a sequence past the end: the next message gets it.
            self.state.last_seq = next - 1;
            self.write_skip(next - 1, self.state.last_time)?;
            self.fix_first();
        }
        Ok(removed)
    }

    fn expire_before(&mut self, time: i64) -> Result<u64, StoreError> {
        let mut seqs = Vec::new();
        let (first, last) = (self.state.first_seq, self.state.last_seq);
        self.scan(first, last, false, |seq, rec| {
            let old = rec.ts < time;
            if old {
                seqs.push(seq);
            }
            old
        })?;
        self.remove_many(&seqs)
    }

    fn expire_ttls(&mut self, now: i64) -> Result<u64, StoreError> {
        let mut seqs: Vec<u64> = self
            .ttls
            .iter()
            .take_while(|(expiry, _)| *expiry <= now)
            .map(|(_, seq)| *seq)
            .collect();
        seqs.sort_unstable();
        self.remove_many(&seqs)
    }

    fn next_ttl_expiry(&self) -> Option<i64> {
        self.ttls.first().map(|(expiry, _)| *expiry)
    }

    fn state(&self) -> StoreState {
        let mut state = self.state;
        state.num_deleted = if state.msgs == 0 {
            0
        } else {
            (state.last_seq + 1)
                .saturating_sub(state.first_seq)
                .saturating_sub(state.msgs)
        };
        state.num_subjects = self.subjects.len() as u64;
        state
    }

    fn subject_info(&mut self, subject: &[u8]) -> Option<SubjectInfo> {
        match self.per_subject(subject) {
            Ok(per) => per.map(|p| SubjectInfo {
                msgs: p.msgs,
                first_seq: p.first,
                last_seq: p.last,
            }),
            Err(e) => {
                tracing::warn!(stream = %self.cfg.name, error = %e, "JetStream subject index unreadable");
                None
            }
        }
    }

    fn subjects(&mut self, filter: &str) -> Vec<(Bytes, u64)> {
        subject_counts(self.subjects.iter().map(|(s, p)| (s, p.msgs)), filter)
    }

    fn deleted(&mut self) -> Vec<u64> {
        if self.state.msgs == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut next = self.state.first_seq;
        for b in &self.blocks {
            if b.msgs == 0 {
                continue;
            }
            out.extend(next..b.first);
            out.extend(b.dmap.range(b.first..=b.rec_last));
            next = b.rec_last + 1;
        }
        out.extend(next..=self.state.last_seq);
        out
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        // The blocks waiting for compression are compressed, a few at a
        // time; a copy found stale is made again, and nothing changes the
        // blocks meanwhile, so each needs two rounds at most.
        for _ in 0..2 * self.blocks.len() + 2 {
            self.collect_compressed(true);
            if self.compress_due.is_empty() {
                break;
            }
            self.compress_sealed();
        }
        self.collect_compressed(true);
        self.write_index()?;
        self.wfile = None;
        self.cache.clear();
        self.unsynced.clear();
        self.sync_keys()?;
        if std::mem::take(&mut self.dir_unsynced) {
            sync_dir(&self.mdir)?;
        }
        Ok(())
    }

    fn destroy(self: Box<Self>) -> Result<(), StoreError> {
        let FileStore {
            dir,
            mdir,
            compressing,
            ..
        } = *self;
        for job in compressing {
            let _ = job.handle.join();
        }
        match fs::remove_dir_all(&mdir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        // The stream's directory goes too when nothing else is in it.
        let _ = fs::remove_dir(&dir);
        Ok(())
    }
}

//! The file store's tests: the shared conformance checks and model check
//! with real reopens, torn and corrupted blocks, index.db recovery, a
//! `kill -9` of a writing child process, and a full disk.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::store::conformance;

/// Small blocks so that every test rolls through several.
const SMALL: u64 = 1024;

/// How a test's store keeps its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    ChaCha,
    Aes,
    S2,
    ChaChaS2,
}

impl Mode {
    fn encryption(self) -> Option<Encryption> {
        let cipher = match self {
            Mode::Plain | Mode::S2 => return None,
            Mode::ChaCha | Mode::ChaChaS2 => Cipher::ChaCha,
            Mode::Aes => Cipher::Aes,
        };
        Some(Encryption::new(cipher, "the test key", "$G"))
    }
    fn compress(self) -> bool {
        matches!(self, Mode::S2 | Mode::ChaChaS2)
    }
    fn from_env() -> Mode {
        match std::env::var(MODE_ENV).as_deref() {
            Ok("ChaCha") => Mode::ChaCha,
            Ok("Aes") => Mode::Aes,
            Ok("S2") => Mode::S2,
            Ok("ChaChaS2") => Mode::ChaChaS2,
            _ => Mode::Plain,
        }
    }
}

const MODE_ENV: &str = "RNATS_STORE_TEST_MODE";

fn config_in(block_size: u64, mode: Mode) -> FileStoreConfig {
    FileStoreConfig {
        name: "TEST".into(),
        block_size,
        sync_always: false,
        encryption: mode.encryption(),
        compress: mode.compress(),
    }
}

fn config(block_size: u64) -> FileStoreConfig {
    config_in(block_size, Mode::Plain)
}

fn open(dir: &Path) -> FileStore {
    open_in(dir, Mode::Plain)
}

fn open_in(dir: &Path, mode: Mode) -> FileStore {
    FileStore::open(dir, config_in(SMALL, mode)).expect("open")
}

fn conforms_in(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    conformance::check_all(&mut || {
        n += 1;
        Box::new(open_in(&tmp.path().join(format!("s{n}")), mode))
    });
}

#[test]
fn conforms() {
    conforms_in(Mode::Plain);
}

#[test]
fn conforms_encrypted_with_chachapoly() {
    conforms_in(Mode::ChaCha);
}

#[test]
fn conforms_encrypted_with_aes() {
    conforms_in(Mode::Aes);
}

#[test]
fn conforms_compressed() {
    conforms_in(Mode::S2);
}

#[test]
fn conforms_encrypted_and_compressed() {
    conforms_in(Mode::ChaChaS2);
}

#[test]
fn block_sizes_are_nats_servers() {
    assert_eq!(block_size_for(true, -1, false), 8 * 1024 * 1024);
    assert_eq!(block_size_for(false, 0, false), 4 * 1024 * 1024);
    assert_eq!(block_size_for(true, 1000, false), 32_000);
    assert_eq!(block_size_for(true, 127_996, false), 32_000);
    assert_eq!(block_size_for(true, 128_000, false), 4 * 1024 * 1024);
    assert_eq!(block_size_for(false, 1 << 30, false), 8 * 1024 * 1024);
    assert_eq!(
        block_size_for(true, 4 * 8 * 1024 * 1024 - 4, false),
        8 * 1024 * 1024
    );
}

#[test]
fn conforms_with_sync_always() {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    conformance::check_all(&mut || {
        n += 1;
        let cfg = FileStoreConfig {
            sync_always: true,
            ..config(SMALL)
        };
        Box::new(FileStore::open(&tmp.path().join(format!("s{n}")), cfg).unwrap())
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_the_model_across_reopens(ops in conformance::ops()) {
        model_across_reopens(&ops, Mode::Plain);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn matches_the_model_across_reopens_encrypted(ops in conformance::ops()) {
        model_across_reopens(&ops, Mode::Aes);
    }

    #[test]
    fn matches_the_model_across_reopens_compressed(ops in conformance::ops()) {
        model_across_reopens(&ops, Mode::S2);
    }

    #[test]
    fn matches_the_model_across_reopens_encrypted_and_compressed(ops in conformance::ops()) {
        model_across_reopens(&ops, Mode::ChaChaS2);
    }
}

fn model_across_reopens(ops: &[conformance::Op], mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let store = Box::new(FileStore::open(&dir, config_in(256, mode)).unwrap());
    // Reopens take turns: after a close (from index.db), after a close
    // with index.db deleted, and after a crash following the flush (an
    // old index.db or none: from the blocks).
    let mut reopens = 0;
    conformance::check_model(
        store,
        &mut |mut s| {
            reopens += 1;
            match reopens % 3 {
                0 => s.close().unwrap(),
                1 => {
                    s.close().unwrap();
                    fs::remove_file(dir.join("msgs/index.db")).unwrap();
                }
                _ => {}
            }
            drop(s);
            Box::new(FileStore::open(&dir, config_in(256, mode)).unwrap())
        },
        ops,
    );
}

fn payload_of(seq: u64) -> Vec<u8> {
    format!("payload-{seq:08}").into_bytes()
}

/// A store in `dir` with `n` messages (one block), closed; returns the
/// offsets where each record starts and the file length.
fn one_block_in(dir: &Path, n: u64, mode: Mode) -> (Vec<u64>, u64) {
    let mut store = FileStore::open(dir, config_in(1 << 20, mode)).unwrap();
    let mut offsets = Vec::new();
    let mut at = 0u64;
    for seq in 1..=n {
        offsets.push(at);
        let subject = format!("s.{}", seq % 3);
        let headers: &[u8] = if seq % 4 == 0 {
            b"NATS/1.0\r\nA: b\r\n\r\n"
        } else {
            b""
        };
        store
            .append(subject.as_bytes(), headers, &payload_of(seq), seq as i64, 0)
            .unwrap();
        at += block::record_len(subject.len(), headers.len(), payload_of(seq).len()) as u64;
    }
    store.close().unwrap();
    (offsets, at)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("msgs")).unwrap();
    for entry in fs::read_dir(from.join("msgs")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join("msgs").join(entry.file_name())).unwrap();
    }
}

fn check_served(store: &mut FileStore, seq: u64) {
    let msg = store.get(seq).unwrap_or_else(|e| panic!("seq {seq}: {e}"));
    assert_eq!(msg.payload, payload_of(seq), "seq {seq}");
    assert_eq!(msg.subject, format!("s.{}", seq % 3).as_bytes());
    assert_eq!(msg.time, seq as i64);
}

#[test]
fn a_block_torn_at_any_byte_keeps_every_record_before_the_cut() {
    torn_at_any_byte(Mode::Plain);
}

#[test]
fn an_encrypted_block_torn_at_any_byte_keeps_every_record_before_the_cut() {
    torn_at_any_byte(Mode::ChaCha);
    torn_at_any_byte(Mode::Aes);
}

fn torn_at_any_byte(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let n = 12;
    let (offsets, len) = one_block_in(&src, n, mode);
    let whole = fs::read(src.join("msgs/1.blk")).unwrap();
    assert_eq!(whole.len() as u64, len);
    for cut in 0..len {
        for keep_index in [false, true] {
            let dir = tmp.path().join(format!("cut{cut}-{keep_index}"));
            copy_dir(&src, &dir);
            if !keep_index {
                fs::remove_file(dir.join("msgs/index.db")).unwrap();
            }
            fs::write(dir.join("msgs/1.blk"), &whole[..cut as usize]).unwrap();
            let mut store = open_in(&dir, mode);
            // Records wholly before the cut survive; the one cut and those
            // after are gone, and the file is cut back to the last whole one.
            let whole_records = offsets
                .iter()
                .enumerate()
                .filter(|(i, _)| offsets.get(i + 1).copied().unwrap_or(len) <= cut)
                .count() as u64;
            for seq in 1..=whole_records {
                check_served(&mut store, seq);
            }
            for seq in whole_records + 1..=n {
                assert!(
                    matches!(store.get(seq), Err(StoreError::NotFound)),
                    "cut {cut}: seq {seq} served"
                );
            }
            let state = store.state();
            assert_eq!((state.msgs, state.last_seq), (whole_records, whole_records));
            let valid = offsets.get(whole_records as usize).copied().unwrap_or(len);
            assert_eq!(fs::metadata(dir.join("msgs/1.blk")).unwrap().len(), valid);
            // And it takes new messages after them.
            assert_eq!(
                store.append(b"s.0", b"", b"x", 1, 0).unwrap(),
                whole_records + 1
            );
            store.flush().unwrap();
            drop(store);
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn flipped_bytes_make_only_their_record_unserved() {
    flipped_bytes(Mode::Plain);
}

#[test]
fn flipped_encrypted_bytes_make_only_their_record_unserved() {
    flipped_bytes(Mode::ChaCha);
}

fn flipped_bytes(mode: Mode) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let n = 8;
    let (offsets, len) = one_block_in(&src, n, mode);
    let whole = fs::read(src.join("msgs/1.blk")).unwrap();
    for victim in [0usize, 3, 7] {
        let start = offsets[victim];
        let end = offsets.get(victim + 1).copied().unwrap_or(len);
        for at in start..end {
            for keep_index in [false, true] {
                let dir = tmp.path().join(format!("flip{at}-{keep_index}"));
                copy_dir(&src, &dir);
                if !keep_index {
                    fs::remove_file(dir.join("msgs/index.db")).unwrap();
                }
                let mut bad = whole.clone();
                bad[at as usize] ^= 0x5a;
                fs::write(dir.join("msgs/1.blk"), &bad).unwrap();
                let mut store = open_in(&dir, mode);
                let seq = victim as u64 + 1;
                match store.get(seq) {
                    Err(StoreError::NotFound | StoreError::Corrupt(_)) => {}
                    other => panic!("flip at {at}: seq {seq} gave {other:?}"),
                }
                for other in (1..=n).filter(|s| *s != seq) {
                    check_served(&mut store, other);
                }
                // The stream can still remove it (limits must not stop at it).
                store.remove(seq, false).unwrap();
                assert!(matches!(store.get(seq), Err(StoreError::NotFound)));
                assert_eq!(store.state().msgs, n - 1, "flip at {at}");
                store.flush().unwrap();
                drop(store);
                fs::remove_dir_all(&dir).unwrap();
            }
        }
    }
}

/// Everything a store answers, to compare two opens of it.
fn snapshot(store: &mut FileStore) -> String {
    let mut out = format!("{:?}\n", store.state());
    let state = store.state();
    for seq in state.first_seq..=state.last_seq {
        if let Ok(m) = store.get(seq) {
            out += &format!(
                "{seq} {:?} {:?} {:?} {}\n",
                m.subject, m.headers, m.payload, m.time
            );
        }
    }
    for (subject, n) in store.subjects(">") {
        let info = store.subject_info(&subject);
        out += &format!("{subject:?} {n} {info:?}\n");
    }
    out += &format!("{:?} {:?}\n", store.deleted(), store.next_ttl_expiry());
    out
}

fn busy_store(dir: &Path) -> FileStore {
    let mut store = open(dir);
    for i in 1..=300u64 {
        let subject = format!("k.{}", i % 7);
        let (headers, ttl): (&[u8], i64) = if i % 50 == 0 {
            (b"NATS/1.0\r\nNats-TTL: 1h\r\n\r\n", 3600)
        } else {
            (b"", 0)
        };
        store
            .append(
                subject.as_bytes(),
                headers,
                &payload_of(i),
                i as i64 * 1000,
                ttl,
            )
            .unwrap();
        if i % 10 == 0 {
            store.flush().unwrap();
        }
    }
    for seq in [5, 6, 7, 100, 150, 151, 299] {
        assert!(store.remove(seq, seq % 2 == 0).unwrap());
    }
    store
        .purge(&Purge {
            filter: Some("k.3".into()),
            keep: Some(2),
            seq: None,
        })
        .unwrap();
    store.expire_before(20_000).unwrap();
    store.flush().unwrap();
    store
}

#[test]
fn index_db_missing_stale_or_corrupt_is_rebuilt_to_the_same_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut store = busy_store(&dir);
    // sync_to_disk writes index.db: a store dropped after it (no close)
    // reopens from it.
    store.sync_to_disk().unwrap();
    let expected = snapshot(&mut store);
    drop(store);
    let index_written = fs::metadata(dir.join("msgs/index.db"))
        .unwrap()
        .modified()
        .unwrap();
    assert!(expected.contains("Some("), "a TTL is kept: {expected}");
    assert_eq!(snapshot(&mut open(&dir)), expected, "from index.db");
    assert_eq!(
        fs::metadata(dir.join("msgs/index.db"))
            .unwrap()
            .modified()
            .unwrap(),
        index_written,
        "opened without a rebuild"
    );

    fs::remove_file(dir.join("msgs/index.db")).unwrap();
    assert_eq!(snapshot(&mut open(&dir)), expected, "index.db missing");

    let index = fs::read(dir.join("msgs/index.db")).unwrap();
    for at in [0, 9, index.len() / 2, index.len() - 1] {
        let mut bad = index.clone();
        bad[at] ^= 1;
        fs::write(dir.join("msgs/index.db"), &bad).unwrap();
        assert_eq!(
            snapshot(&mut open(&dir)),
            expected,
            "index.db corrupt at {at}"
        );
    }
    fs::write(dir.join("msgs/index.db"), &index[..index.len() / 2]).unwrap();
    assert_eq!(snapshot(&mut open(&dir)), expected, "index.db cut short");

    // Stale: written, then more stored and removed without a close.
    let mut store = open(&dir);
    store.close().unwrap();
    drop(store);
    let mut store = open(&dir);
    store.append(b"k.new", b"", b"late", 1, 0).unwrap();
    let first = store.state().first_seq;
    store.remove(first, false).unwrap();
    let middle = store.next_matching(first + 100, ">").unwrap().seq;
    store.remove(middle, true).unwrap();
    for i in 0..30 {
        store
            .append(b"k.new", b"", &payload_of(i), i as i64, 0)
            .unwrap();
    }
    store.remove(store.state().last_seq - 1, true).unwrap();
    store.flush().unwrap();
    let expected = snapshot(&mut store);
    drop(store);
    assert_eq!(snapshot(&mut open(&dir)), expected, "index.db stale");
    // The same with only appends and removals after index.db (no block
    // deleted): index.db and the records appended since.
    let mut store = open(&dir);
    store.close().unwrap();
    drop(store);
    let mut store = open(&dir);
    let middle = store.next_matching(200, ">").unwrap().seq;
    store.remove(middle, false).unwrap();
    for i in 0..40 {
        store
            .append(
                b"k.tail",
                b"NATS/1.0\r\nNats-TTL: 5\r\n\r\n",
                &payload_of(i),
                i as i64,
                5,
            )
            .unwrap();
    }
    let last = store.state().last_seq;
    store.remove(last - 2, true).unwrap();
    store.remove(last, false).unwrap();
    store.flush().unwrap();
    let expected = snapshot(&mut store);
    drop(store);
    assert_eq!(snapshot(&mut open(&dir)), expected, "index.db and a tail");
}

#[test]
fn a_block_written_by_nats_server_is_read_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ORDERS");
    fs::create_dir_all(dir.join("msgs")).unwrap();
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/file/testdata/nats-server-2.15.1");
    for f in ["meta.inf", "meta.sum"] {
        fs::copy(data.join(f), dir.join(f)).unwrap();
    }
    fs::copy(data.join("1.blk"), dir.join("msgs/1.blk")).unwrap();
    // meta.sum as nats-server wrote it.
    let (meta, _) = read_meta(&dir, None).unwrap();
    assert!(meta.starts_with(b"{\"Created\""));
    // make.go stored 4 messages, removed 2 and erased 3.
    let mut store = FileStore::open(&dir, FileStoreConfig::new("ORDERS")).unwrap();
    let state = store.state();
    assert_eq!(
        (
            state.msgs,
            state.first_seq,
            state.last_seq,
            state.num_deleted
        ),
        (2, 1, 4, 2)
    );
    let m = store.get(1).unwrap();
    assert_eq!(
        (&m.subject[..], &m.payload[..]),
        (&b"orders.a"[..], &b"hello"[..])
    );
    let m = store.get(4).unwrap();
    assert_eq!(
        (&m.subject[..], &m.payload[..]),
        (&b"orders.c"[..], &b"fourth"[..])
    );
    assert!(matches!(store.get(2), Err(StoreError::NotFound)));
    assert!(matches!(store.get(3), Err(StoreError::NotFound)));
    let blk = fs::read(dir.join("msgs/1.blk")).unwrap();
    assert!(
        !blk.windows(5).any(|w| w == b"third"),
        "erased by nats-server"
    );
    // Under another stream name the checksums do not hold: nothing served.
    drop(store);
    let other = tmp.path().join("OTHER");
    fs::create_dir_all(other.join("msgs")).unwrap();
    fs::copy(data.join("1.blk"), other.join("msgs/1.blk")).unwrap();
    let store = FileStore::open(&other, FileStoreConfig::new("OTHER")).unwrap();
    assert_eq!(store.state().msgs, 0);
}

#[test]
fn meta_files_are_written_as_nats_server_writes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/file/testdata/nats-server-2.15.1");
    let json = fs::read(data.join("meta.inf")).unwrap();
    write_meta(tmp.path(), &json, None).unwrap();
    assert_eq!(
        fs::read(tmp.path().join("meta.sum")).unwrap(),
        fs::read(data.join("meta.sum")).unwrap()
    );
    assert_eq!(read_meta(tmp.path(), None).unwrap(), (json.clone(), false));
    let mut changed = json.clone();
    changed[2] ^= 1;
    fs::write(tmp.path().join("meta.inf"), &changed).unwrap();
    assert!(matches!(
        read_meta(tmp.path(), None),
        Err(StoreError::Corrupt(_))
    ));
    assert!(!tmp.path().join("meta.inf.tmp").exists());
}

#[test]
fn files_are_private_to_the_server_user() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut store = open(&dir);
    store.append(b"a", b"", b"x", 1, 0).unwrap();
    store.close().unwrap();
    write_meta(&dir, b"{}", None).unwrap();
    let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("msgs"), 0o700);
    for f in ["msgs/1.blk", "msgs/index.db", "meta.inf", "meta.sum"] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
}

#[test]
fn erase_overwrites_the_bytes_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut store = open(&dir);
    store.append(b"a", b"", b"keep-me", 1, 0).unwrap();
    store.append(b"a", b"", b"secret-flushed", 2, 0).unwrap();
    store.flush().unwrap();
    store.append(b"a", b"", b"secret-buffered", 3, 0).unwrap();
    store.append(b"a", b"", b"last", 4, 0).unwrap();
    assert!(store.remove(2, true).unwrap());
    assert!(store.remove(3, true).unwrap());
    store.flush().unwrap();
    let on_disk = |dir: &Path| -> Vec<u8> {
        let mut all = Vec::new();
        for e in fs::read_dir(dir.join("msgs")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "blk") {
                all.extend(fs::read(p).unwrap());
            }
        }
        all
    };
    let bytes = on_disk(&dir);
    assert!(bytes.windows(6).any(|w| w == b"keep-m"));
    assert!(!bytes.windows(6).any(|w| w == b"secret"));
    assert!(matches!(store.get(2), Err(StoreError::NotFound)));
    drop(store);
    fs::remove_file(dir.join("msgs/index.db")).ok();
    let mut store = open(&dir);
    assert_eq!(store.state().msgs, 2);
    assert_eq!(&store.get(4).unwrap().payload[..], b"last");
    assert!(matches!(store.get(3), Err(StoreError::NotFound)));
}

#[test]
fn empty_blocks_are_deleted_and_the_last_sequence_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut store = open(&dir);
    for i in 1..=100u64 {
        store
            .append(b"a", b"", &payload_of(i), i as i64, 0)
            .unwrap();
    }
    store.flush().unwrap();
    let blocks = |dir: &Path| {
        fs::read_dir(dir.join("msgs"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "blk")
            })
            .count()
    };
    assert!(blocks(&dir) > 3);
    for seq in 1..=100 {
        store.remove(seq, false).unwrap();
        if seq % 10 == 0 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
    assert!(blocks(&dir) <= 2, "{} blocks left", blocks(&dir));
    drop(store);
    // Without index.db the blocks alone still know the last sequence.
    fs::remove_file(dir.join("msgs/index.db")).ok();
    let mut store = open(&dir);
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 101, 100));
    assert_eq!(store.append(b"a", b"", b"x", 1, 0).unwrap(), 101);
    // A purge of everything leaves one small block.
    for i in 0..50 {
        store
            .append(b"b", b"", &payload_of(i), i as i64, 0)
            .unwrap();
    }
    store.purge(&Purge::default()).unwrap();
    store.flush().unwrap();
    assert_eq!(blocks(&dir), 1);
    drop(store);
    fs::remove_file(dir.join("msgs/index.db")).ok();
    let store = open(&dir);
    assert_eq!((store.state().msgs, store.state().last_seq), (0, 151));
}

const CRASH_DIR: &str = "RNATS_STORE_CRASH_DIR";
const ENOSPC_DIR: &str = "RNATS_STORE_ENOSPC_DIR";

/// This test binary again, running only the (ignored) test `name`.
fn child(name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        &format!("store::file::tests::{name}"),
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

#[test]
#[ignore = "the child process of kill_9_loses_no_flushed_message"]
fn crash_child() {
    use std::io::Write;
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let mut store = FileStore::open(Path::new(&dir), config_in(4096, Mode::from_env())).unwrap();
    let mut out = std::io::stdout().lock();
    let mut batch = Vec::new();
    loop {
        for _ in 0..10 {
            let next = store.state().last_seq + 1;
            let seq = store
                .append(b"crash", b"", &payload_of(next), next as i64, 0)
                .unwrap();
            batch.push(seq);
        }
        store.flush().unwrap();
        for seq in batch.drain(..) {
            writeln!(out, "flushed {seq}").unwrap();
        }
        // Some removals too, said once flushed.
        let gone = store.state().last_seq - 4;
        if gone.is_multiple_of(7) && store.remove(gone, gone.is_multiple_of(3)).unwrap() {
            store.flush().unwrap();
            writeln!(out, "removed {gone}").unwrap();
        }
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_no_flushed_message() {
    kill_9(Mode::Plain);
}

#[test]
fn kill_9_loses_no_flushed_message_encrypted_and_compressed() {
    kill_9(Mode::ChaChaS2);
}

fn kill_9(mode: Mode) {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut printed = Vec::new();
    let mut removed = std::collections::HashSet::new();
    for round in 0..3 {
        let mut proc = child("crash_child")
            .env(CRASH_DIR, &dir)
            .env(MODE_ENV, format!("{mode:?}"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let target = 3000 + round * 777;
        let mut note = |line: String| {
            if let Some(seq) = line.strip_prefix("flushed ") {
                printed.push(seq.parse::<u64>().unwrap());
            } else if let Some(seq) = line.strip_prefix("removed ") {
                removed.insert(seq.parse::<u64>().unwrap());
            }
        };
        let mut seen = 0;
        while seen < target {
            let Some(line) = lines.next() else {
                panic!("child ended early: {:?}", proc.wait())
            };
            seen += usize::from(line.as_ref().unwrap().starts_with("flushed "));
            note(line.unwrap());
        }
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();
        // What it printed before dying is all flushed too.
        for line in lines {
            note(line.unwrap());
        }
        let mut store = open_in(&dir, mode);
        let state = store.state();
        assert!(
            printed.windows(2).all(|w| w[1] > w[0]),
            "in order, no duplicate"
        );
        let last = *printed.last().unwrap();
        assert!(state.last_seq >= last, "round {round}: {state:?} < {last}");
        // Every message is there once, whole, in order, none corrupt;
        // the removed ones are gone.
        assert!(!removed.is_empty());
        let mut live = 0;
        for seq in 1..=state.last_seq {
            match store.get(seq) {
                Ok(msg) => {
                    assert!(!removed.contains(&seq), "removed {seq} is back");
                    assert_eq!(msg.payload, payload_of(seq));
                    live += 1;
                }
                Err(StoreError::NotFound) if seq % 7 == 0 => {}
                Err(e) => panic!("seq {seq}: {e}"),
            }
        }
        assert_eq!(state.msgs, live);
    }
}

#[test]
#[ignore = "the child process of a_full_disk_refuses_then_recovers, in a tmpfs"]
fn enospc_child() {
    let Some(dir) = std::env::var_os(ENOSPC_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    // Room to free later.
    let filler = dir.join("filler");
    fs::write(&filler, vec![1u8; 64 * 1024]).unwrap();
    let mut store = FileStore::open(&dir.join("s"), config(16 * 1024)).unwrap();
    let payload = [7u8; 1000];
    let mut flushed = 0;
    let mut full = false;
    for _ in 0..1000 {
        // Batches of more than a block: a flush writes two or three blocks,
        // and the disk fills after some of them were written.
        for _ in 0..23 {
            store.append(b"fill", b"", &payload, 1, 0).unwrap();
        }
        match store.flush() {
            Ok(()) => flushed = store.state().last_seq,
            Err(StoreError::InsufficientResources) => {
                full = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(full, "the disk never filled");
    let state = store.state();
    assert_eq!((state.last_seq, state.msgs), (flushed, flushed));
    for seq in 1..=flushed {
        assert_eq!(&store.get(seq).unwrap().payload[..], &payload[..]);
    }
    // Still full: refused again, nothing lost, sequences reused.
    assert_eq!(
        store.append(b"fill", b"", &payload, 1, 0).unwrap(),
        flushed + 1
    );
    for _ in 0..20 {
        store.append(b"fill", b"", &payload, 1, 0).unwrap();
    }
    assert!(matches!(
        store.flush(),
        Err(StoreError::InsufficientResources)
    ));
    assert_eq!(store.state().last_seq, flushed);
    // A purge while full, then more than fits: the purge stays done.
    assert_eq!(store.purge(&Purge::default()).unwrap(), flushed);
    for _ in 0..23 {
        store.append(b"fill", b"", &payload, 1, 0).unwrap();
    }
    assert!(matches!(
        store.flush(),
        Err(StoreError::InsufficientResources)
    ));
    let state = store.state();
    assert_eq!((state.msgs, state.last_seq), (0, flushed));
    // Space freed: it works again.
    fs::remove_file(&filler).unwrap();
    for i in 1..=5 {
        assert_eq!(
            store.append(b"fill", b"", &payload, 2, 0).unwrap(),
            flushed + i
        );
    }
    store.flush().unwrap();
    drop(store);
    // Even from the blocks alone (no index.db), the purge held.
    let _ = fs::remove_file(dir.join("s/msgs/index.db"));
    let mut store = FileStore::open(&dir.join("s"), config(16 * 1024)).unwrap();
    let state = store.state();
    assert_eq!(
        (state.msgs, state.first_seq, state.last_seq),
        (5, flushed + 1, flushed + 5)
    );
    for seq in flushed + 1..=flushed + 5 {
        assert_eq!(&store.get(seq).unwrap().payload[..], &payload[..]);
    }
    store.close().unwrap();
    println!("ENOSPC-CHECKED {flushed}");
}

#[test]
fn a_full_disk_refuses_then_recovers() {
    // A small tmpfs in a private mount namespace gives a real ENOSPC.
    let can = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !can {
        eprintln!("SKIPPED: needs root and unshare -m to mount a small tmpfs");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=192k tmpfs \"$0\" && exec \"$1\" --ignored --exact \
             store::file::tests::enospc_child --nocapture --test-threads=1",
        ])
        .arg(tmp.path())
        .arg(&exe)
        .env(ENOSPC_DIR, tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ENOSPC-CHECKED"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cargo test --release -p rnats-jetstream -- --ignored --nocapture
/// file_store_numbers`: appends per second (16 B, flushed in batches of
/// 100) and the time to reopen 1 M messages from index.db and from the
/// blocks alone.
#[test]
#[ignore = "a measurement, run by hand in release mode"]
fn file_store_numbers() {
    use std::time::Instant;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let n = 1_000_000u64;
    let rss = || -> u64 {
        let statm = fs::read_to_string("/proc/self/statm").unwrap();
        statm.split(' ').nth(1).unwrap().parse::<u64>().unwrap() * 4096
    };
    let before = rss();
    let mut empty: Vec<FileStore> = (0..1000)
        .map(|i| {
            FileStore::open(
                &tmp.path().join(format!("e{i}")),
                FileStoreConfig::new(format!("E{i}")),
            )
            .unwrap()
        })
        .collect();
    for s in &mut empty {
        s.append(b"a", b"", b"x", 1, 0).unwrap();
        s.flush().unwrap();
        s.sync_to_disk().unwrap();
    }
    println!(
        "1000 stores with one message each: {} bytes of RSS each ({} inline)",
        (rss() - before) / 1000,
        std::mem::size_of::<FileStore>()
    );
    drop(empty);
    // A KV bucket with history 1: every put removes the key's previous
    // message, found through the subject index.
    let mut kv = FileStore::open(&tmp.path().join("kv"), FileStoreConfig::new("KV_b")).unwrap();
    let keys = 10_000;
    let start = Instant::now();
    for round in 0..5 {
        for k in 0..keys {
            let subject = format!("$KV.b.{k}");
            kv.append(subject.as_bytes(), b"", b"value-0123456789", round, 0)
                .unwrap();
            if let Some(info) = kv.subject_info(subject.as_bytes())
                && info.msgs > 1
            {
                kv.remove(info.first_seq, false).unwrap();
            }
            if k % 100 == 99 {
                kv.flush().unwrap();
            }
        }
    }
    println!(
        "KV put (history 1, {keys} keys): {:.0} ns/put",
        start.elapsed().as_nanos() as f64 / (5 * keys) as f64
    );
    assert_eq!(kv.state().msgs, keys as u64);
    drop(kv);
    let mut store = FileStore::open(&dir, FileStoreConfig::new("BENCH")).unwrap();
    let payload = [b'x'; 16];
    let start = Instant::now();
    for i in 0..n {
        store
            .append(b"bench.subject", b"", &payload, i as i64, 0)
            .unwrap();
        if i % 100 == 99 {
            store.flush().unwrap();
        }
    }
    store.flush().unwrap();
    let took = start.elapsed();
    println!(
        "append+flush(100): {:.0} msgs/s, {:.0} ns/msg",
        n as f64 / took.as_secs_f64(),
        took.as_nanos() as f64 / n as f64
    );
    let start = Instant::now();
    for seq in (1..=n).step_by(97) {
        store.get(seq).unwrap();
    }
    println!(
        "get (sequential blocks): {:.0} ns/msg",
        start.elapsed().as_nanos() as f64 / (n / 97) as f64
    );
    store.close().unwrap();
    drop(store);
    let disk: u64 = fs::read_dir(dir.join("msgs"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "on disk: {disk} bytes, {:.1} bytes/msg",
        disk as f64 / n as f64
    );
    let start = Instant::now();
    let store = FileStore::open(&dir, FileStoreConfig::new("BENCH")).unwrap();
    println!("reopen with index.db: {:?}", start.elapsed());
    assert_eq!(store.state().msgs, n);
    drop(store);
    fs::remove_file(dir.join("msgs/index.db")).unwrap();
    let start = Instant::now();
    let store = FileStore::open(&dir, FileStoreConfig::new("BENCH")).unwrap();
    println!("reopen rebuilding from the blocks: {:?}", start.elapsed());
    assert_eq!(store.state().msgs, n);
    // A crash after more was stored: index.db and what came after it.
    let mut store = store;
    for i in 0..10_000 {
        store.append(b"bench.subject", b"", &payload, i, 0).unwrap();
    }
    store.flush().unwrap();
    drop(store);
    let start = Instant::now();
    let store = FileStore::open(&dir, FileStoreConfig::new("BENCH")).unwrap();
    println!(
        "reopen after a crash, 10 000 messages past index.db: {:?}",
        start.elapsed()
    );
    assert_eq!(store.state().msgs, n + 10_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// An index.db that passes its checksum but says anything at all (a
    /// bug, or a file made by hand) is refused or used, never a panic.
    #[test]
    fn any_index_db_with_a_valid_checksum_never_panics(
        head in proptest::collection::vec(0u64..300, 3),
        blocks in proptest::collection::vec((proptest::collection::vec(0u64..300, 8), proptest::collection::vec(0u64..300, 0..3)), 0..3),
        subjects in proptest::collection::vec(proptest::collection::vec(0u64..300, 3), 0..3),
    ) {
        // Well-formed, with numbers that need not agree with each other.
        let key = block::key_of(b"TEST");
        let mut buf = b"RNJSIX01".to_vec();
        let put = |buf: &mut Vec<u8>, v: u64| buf.extend_from_slice(&v.to_le_bytes());
        for v in &head {
            put(&mut buf, *v);
        }
        put(&mut buf, blocks.len() as u64);
        for (i, (fields, dels)) in blocks.iter().enumerate() {
            buf.extend_from_slice(&(i as u32 + 1).to_le_bytes());
            for v in &fields[..7] {
                put(&mut buf, *v);
            }
            put(&mut buf, dels.len() as u64);
            for d in dels {
                put(&mut buf, *d);
            }
        }
        put(&mut buf, subjects.len() as u64);
        for (i, f) in subjects.iter().enumerate() {
            buf.extend_from_slice(&3u16.to_le_bytes());
            buf.extend_from_slice(format!("s.{i}").as_bytes());
            for v in f {
                put(&mut buf, *v);
            }
            buf.push((f[0] % 4) as u8);
        }
        put(&mut buf, 1);
        put(&mut buf, head[0]);
        put(&mut buf, head[1]);
        let sum = block::checksum(key, &[&buf]);
        buf.extend_from_slice(&sum);
        if let Some(decoded) = index::decode(&buf, key, "TEST") {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("s");
            fs::create_dir_all(dir.join("msgs")).unwrap();
            for b in &decoded.blocks {
                fs::write(dir.join(format!("msgs/{}.blk", b.index)), vec![0u8; b.len.min(4096) as usize]).unwrap();
            }
            fs::write(dir.join("msgs/index.db"), &buf).unwrap();
            if let Ok(mut store) = FileStore::open(&dir, config(SMALL)) {
                let state = store.state();
                for seq in state.first_seq..=state.last_seq.min(state.first_seq + 50) {
                    let _ = store.get(seq);
                }
                let _ = store.append(b"a", b"", b"x", 1, 0);
                let _ = store.flush();
                let _ = store.purge(&Purge::default());
            }
        }
    }

    /// Blocks of random bytes: opened without a panic, nothing served.
    #[test]
    fn random_blocks_never_panic_nor_serve(
        blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..4),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        fs::create_dir_all(dir.join("msgs")).unwrap();
        for (i, bytes) in blocks.iter().enumerate() {
            fs::write(dir.join(format!("msgs/{}.blk", i + 1)), bytes).unwrap();
        }
        let mut store = open(&dir);
        prop_assert_eq!(store.state().msgs, 0);
        prop_assert!(store.get(1).is_err());
        store.append(b"a", b"", b"x", 1, 0).unwrap();
        store.flush().unwrap();
    }
}

/// The plain bytes of every file under `dir`.
fn all_file_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn an_encrypted_store_keeps_no_plaintext_and_needs_its_key() {
    for mode in [Mode::ChaCha, Mode::Aes, Mode::ChaChaS2] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("TEST");
        let mut store = FileStore::open(&dir, config_in(SMALL, mode)).unwrap();
        for i in 0..100u64 {
            let payload = format!("secret-payload-{i:04}");
            store
                .append(b"orders.new", b"", payload.as_bytes(), i as i64 + 1, 0)
                .unwrap();
        }
        store.remove(5, true).unwrap();
        store.close().unwrap();
        let enc = mode.encryption().unwrap();
        write_meta(&dir, br#"{"name":"TEST","secret":"config"}"#, Some(&enc)).unwrap();
        let files = all_file_bytes(&dir);
        assert!(files.iter().any(|(p, _)| p.ends_with("meta.key")));
        assert!(files.iter().any(|(p, _)| p.ends_with("msgs/1.key")));
        for (path, bytes) in &files {
            for needle in [&b"secret-payload"[..], b"orders.new", b"secret", b"TEST"] {
                assert!(
                    !contains(bytes, needle),
                    "{mode:?}: {} holds {needle:?}",
                    path.display()
                );
            }
        }
        // Read back, with the key.
        let (json, sealed) = read_meta(&dir, Some(&enc)).unwrap();
        assert_eq!(
            (&json[..], sealed),
            (&br#"{"name":"TEST","secret":"config"}"#[..], true)
        );
        let mut store = FileStore::open(&dir, config_in(SMALL, mode)).unwrap();
        assert_eq!(store.state().msgs, 99);
        assert_eq!(&store.get(100).unwrap().payload[..], b"secret-payload-0099");
        assert!(matches!(store.get(5), Err(StoreError::NotFound)));
        drop(store);
        // From the blocks alone too.
        fs::remove_file(dir.join("msgs/index.db")).unwrap();
        let mut store = FileStore::open(&dir, config_in(SMALL, mode)).unwrap();
        assert_eq!(store.state().msgs, 99);
        assert_eq!(&store.get(1).unwrap().payload[..], b"secret-payload-0000");
        drop(store);
        // A wrong key, or none, opens nothing (nats-server's errors).
        let mut wrong = config_in(SMALL, mode);
        wrong.encryption = Some(Encryption::new(enc.cipher(), "not the key", "$G"));
        let e = FileStore::open(&dir, wrong.clone()).unwrap_err();
        assert_eq!(e.to_string(), "unable to recover keys");
        assert!(!e.to_string().contains("the test key"));
        assert_eq!(
            read_meta(&dir, wrong.encryption.as_ref())
                .unwrap_err()
                .to_string(),
            "unable to recover keys"
        );
        let none = config_in(SMALL, Mode::Plain);
        assert_eq!(
            FileStore::open(&dir, none).unwrap_err().to_string(),
            "encrypted store encountered with no main key"
        );
        assert_eq!(
            read_meta(&dir, None).unwrap_err().to_string(),
            "encrypted store encountered with no main key"
        );
        // Nothing was changed by the refusals.
        let mut store = FileStore::open(&dir, config_in(SMALL, mode)).unwrap();
        assert_eq!(store.state().msgs, 99);
        assert_eq!(&store.get(50).unwrap().payload[..], b"secret-payload-0049");
    }
}

#[test]
fn a_plain_store_is_encrypted_in_place_when_a_key_is_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("TEST");
    let mut store = open(&dir);
    for i in 1..=60u64 {
        store
            .append(b"a.b", b"", &payload_of(i), i as i64, 0)
            .unwrap();
    }
    store.close().unwrap();
    write_meta(&dir, br#"{"name":"TEST"}"#, None).unwrap();
    assert!(
        all_file_bytes(&dir)
            .iter()
            .any(|(_, b)| contains(b, b"payload-"))
    );
    // A conversion cut short: one block has its key file but plain bytes.
    let enc = Mode::ChaCha.encryption().unwrap();
    enc.new_block_key(&dir.join("msgs"), "TEST", 2, false)
        .unwrap();
    let mut store = open_in(&dir, Mode::ChaCha);
    assert_eq!(store.state().msgs, 60);
    for i in 1..=60 {
        assert_eq!(store.get(i).unwrap().payload, payload_of(i));
    }
    store.close().unwrap();
    // The stream layer seals meta.inf once the store is encrypted.
    let (json, sealed) = read_meta(&dir, Some(&enc)).unwrap();
    assert!(!sealed);
    write_meta(&dir, &json, Some(&enc)).unwrap();
    for (path, bytes) in all_file_bytes(&dir) {
        assert!(!contains(&bytes, b"payload-"), "{}", path.display());
        assert!(!contains(&bytes, b"TEST"), "{}", path.display());
    }
    let mut store = open_in(&dir, Mode::ChaCha);
    assert_eq!(store.get(33).unwrap().payload, payload_of(33));
    assert!(matches!(
        FileStore::open(&dir, config(SMALL)),
        Err(StoreError::Encryption(_))
    ));
}

#[test]
fn sealed_blocks_are_compressed_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let compressible = vec![b'x'; 900];
    let mut sizes = Vec::new();
    for mode in [Mode::Plain, Mode::S2, Mode::ChaChaS2] {
        let dir = tmp.path().join(format!("{mode:?}"));
        let mut store = FileStore::open(&dir, config_in(64 * 1024, mode)).unwrap();
        let n = 1000u64;
        for i in 1..=n {
            store
                .append(b"logs.app", b"", &compressible, i as i64, 0)
                .unwrap();
            if i % 50 == 0 {
                store.flush().unwrap();
            }
        }
        store.close().unwrap();
        let blocks: Vec<_> = all_file_bytes(&dir.join("msgs"))
            .into_iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == "blk"))
            .collect();
        let total: usize = blocks.iter().map(|(_, b)| b.len()).sum();
        sizes.push((mode, total as f64 / n as f64));
        if mode == Mode::S2 {
            let last = blocks.iter().map(|(p, _)| p.clone()).max_by_key(|p| {
                p.file_stem()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap()
            });
            for (path, bytes) in &blocks {
                assert_eq!(
                    bytes.starts_with(b"cmp\x01"),
                    Some(path) != last.as_ref(),
                    "sealed blocks only: {}",
                    path.display()
                );
            }
        }
        for reopen in 0..2 {
            if reopen == 1 {
                fs::remove_file(dir.join("msgs/index.db")).unwrap();
            }
            let mut store = FileStore::open(&dir, config_in(64 * 1024, mode)).unwrap();
            assert_eq!(store.state().msgs, n - reopen);
            for seq in [1, 76, 500, n] {
                assert_eq!(store.get(seq).unwrap().payload, compressible);
            }
            // Erasing inside a compressed block rewrites it.
            store.remove(77 + reopen, true).unwrap();
            store.close().unwrap();
        }
        let mut store = FileStore::open(&dir, config_in(64 * 1024, mode)).unwrap();
        assert_eq!(store.state().msgs, n - 2);
        assert!(store.get(78).is_err());
        assert_eq!(store.get(79).unwrap().payload, compressible);
    }
    eprintln!("bytes on disk per 900-byte message: {sizes:?}");
    let per = |m: Mode| sizes.iter().find(|(x, _)| *x == m).unwrap().1;
    assert!(per(Mode::S2) * 4.0 < per(Mode::Plain), "{sizes:?}");
    assert!(per(Mode::ChaChaS2) * 4.0 < per(Mode::Plain), "{sizes:?}");
}

#[test]
fn a_torn_compressed_block_loses_only_its_records() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut store = FileStore::open(&src, config_in(SMALL, Mode::S2)).unwrap();
    for seq in 1..=40u64 {
        store
            .append(b"s.1", b"", &payload_of(seq), seq as i64, 0)
            .unwrap();
        store.flush().unwrap();
    }
    store.close().unwrap();
    let first = fs::read(src.join("msgs/1.blk")).unwrap();
    assert!(first.starts_with(b"cmp\x01"));
    let in_first = FileStore::open(&src, config_in(SMALL, Mode::S2))
        .unwrap()
        .blocks[0]
        .rec_last;
    for cut in (0..first.len()).step_by(7) {
        let dir = tmp.path().join(format!("cut{cut}"));
        copy_dir(&src, &dir);
        fs::write(dir.join("msgs/1.blk"), &first[..cut]).unwrap();
        let mut store = open_in(&dir, Mode::S2);
        for seq in 1..=in_first {
            assert!(store.get(seq).is_err(), "cut {cut}: {seq} served");
        }
        for seq in in_first + 1..=40 {
            assert_eq!(store.get(seq).unwrap().payload, payload_of(seq));
        }
        assert_eq!(store.state().last_seq, 40);
        drop(store);
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// What encryption and compression cost the write and read paths:
/// `cargo test --release -p rnats-jetstream --lib -- --ignored
/// encryption_and_compression_costs --nocapture`.
#[test]
#[ignore = "a measurement, run by hand in release mode"]
fn encryption_and_compression_costs() {
    use std::time::Instant;
    let n = 500_000u64;
    let payload = vec![b'p'; 128];
    for mode in [
        Mode::Plain,
        Mode::ChaCha,
        Mode::Aes,
        Mode::S2,
        Mode::ChaChaS2,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("TEST");
        let block_size = if mode.encryption().is_some() {
            MAX_ENCRYPTED_BLOCK_SIZE
        } else {
            DEFAULT_BLOCK_SIZE
        };
        let mut store = FileStore::open(&dir, config_in(block_size, mode)).unwrap();
        let start = Instant::now();
        let mut slowest = std::time::Duration::ZERO;
        let mut in_flush = std::time::Duration::ZERO;
        for seq in 1..=n {
            store
                .append(b"orders.new", b"", &payload, seq as i64, 0)
                .unwrap();
            if seq % 256 == 0 {
                let t = Instant::now();
                store.flush().unwrap();
                slowest = slowest.max(t.elapsed());
                in_flush += t.elapsed();
            }
        }
        store.close().unwrap();
        let write = start.elapsed();
        drop(store);
        let start = Instant::now();
        let mut store = FileStore::open(&dir, config_in(block_size, mode)).unwrap();
        for seq in 1..=n {
            store.get(seq).unwrap();
        }
        let read = start.elapsed();
        let disk: u64 = all_file_bytes(&dir.join("msgs"))
            .iter()
            .map(|(_, b)| b.len() as u64)
            .sum();
        println!(
            "{mode:?}: append+flush {:.0} k msgs/s (in flush {:.0} ms, slowest {:.1} ms), cold sequential get {:.0} k msgs/s, {:.1} bytes a message on disk",
            n as f64 / write.as_secs_f64() / 1e3,
            in_flush.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3,
            n as f64 / read.as_secs_f64() / 1e3,
            disk as f64 / n as f64
        );
    }
}

#[test]
fn a_change_of_cipher_converts_the_store_as_nats_server_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("TEST");
    let mdir = dir.join("msgs");
    let json = br#"{"name":"TEST"}"#;
    let mut store = open_in(&dir, Mode::ChaCha);
    for i in 1..=60u64 {
        store
            .append(b"a.b", b"", &payload_of(i), i as i64, 0)
            .unwrap();
    }
    store.close().unwrap();
    let chacha = Mode::ChaCha.encryption().unwrap();
    let aes = Mode::Aes.encryption().unwrap();
    write_meta(&dir, json, Some(&chacha)).unwrap();
    // Read with the new cipher: said to need sealing again.
    assert_eq!(read_meta(&dir, Some(&aes)).unwrap(), (json.to_vec(), false));
    let served = |store: &mut FileStore| {
        assert_eq!(store.state().msgs, 60);
        for i in 1..=60 {
            assert_eq!(store.get(i).unwrap().payload, payload_of(i));
        }
    };
    let mut store = open_in(&dir, Mode::Aes);
    served(&mut store);
    store.close().unwrap();
    assert_eq!(read_meta(&dir, Some(&aes)).unwrap(), (json.to_vec(), true));
    assert!(aes.block_key(&mdir, "TEST", 1).unwrap().is_some());
    assert!(chacha.block_key(&mdir, "TEST", 1).is_err());
    assert!(!dir.join("meta.key.new").exists());
    for (path, bytes) in all_file_bytes(&dir) {
        assert!(!contains(&bytes, b"payload-"), "{}", path.display());
    }
    // A crash after a block's new key file was written: its converted
    // bytes beside it take its place at the next open.
    let good = fs::read(mdir.join("1.blk")).unwrap();
    fs::write(mdir.join("1.blk.cnv"), &good).unwrap();
    fs::write(mdir.join("1.blk"), vec![0x55; good.len()]).unwrap();
    fs::remove_file(mdir.join("index.db")).unwrap();
    let mut store = open_in(&dir, Mode::Aes);
    served(&mut store);
    store.close().unwrap();
    // And back, with a stale converted block (its key file never made it)
    // and a stale new stream key lying around: both are forgotten.
    fs::write(mdir.join("2.blk.cnv"), b"stale").unwrap();
    fs::write(dir.join("meta.key.new"), vec![7u8; 72]).unwrap();
    let mut store = open_in(&dir, Mode::ChaCha);
    served(&mut store);
    store.close().unwrap();
    assert!(!mdir.join("2.blk.cnv").exists());
    assert!(!dir.join("meta.key.new").exists());
    assert_eq!(
        read_meta(&dir, Some(&chacha)).unwrap(),
        (json.to_vec(), true)
    );
    // A different key is still refused.
    let wrong = Encryption::new(Cipher::Aes, "another key", "$G");
    let mut cfg = config_in(SMALL, Mode::Aes);
    cfg.encryption = Some(wrong);
    assert_eq!(
        FileStore::open(&dir, cfg).unwrap_err().to_string(),
        "unable to recover keys"
    );
}

#[test]
fn an_erase_while_its_block_is_being_compressed_is_never_undone() {
    for round in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("TEST");
        let mut store = open_in(&dir, Mode::S2);
        let mut seq = 0;
        // Fill block 1 and seal it: its compression starts at this flush.
        while store.blocks.len() < 2 {
            seq += 1;
            let payload = format!("message-{seq:04}-{}", "x".repeat(40));
            store.append(b"a", b"", payload.as_bytes(), seq, 0).unwrap();
        }
        store.flush().unwrap();
        // Erased in place at once, racing the copy being compressed.
        let victim = 1 + round % 5;
        store.remove(victim, true).unwrap();
        store.close().unwrap();
        let first = fs::read(dir.join("msgs/1.blk")).unwrap();
        assert!(first.starts_with(b"cmp\x01"), "round {round}: compressed");
        let plain = compress::decompress(&first).unwrap();
        let needle = format!("message-{victim:04}-");
        assert!(
            !contains(&plain, needle.as_bytes()),
            "round {round}: erase undone"
        );
        let mut store = open_in(&dir, Mode::S2);
        assert!(store.get(victim).is_err());
        for s in (1..=seq as u64).filter(|s| *s != victim) {
            store.get(s).unwrap();
        }
    }
}

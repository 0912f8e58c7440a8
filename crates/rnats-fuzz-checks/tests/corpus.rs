//! Replays every seed and every saved crash of the fuzz targets (`fuzz/corpus/<target>/`,
//! `fuzz/artifacts/<target>/`) through the checks the fuzzers run, on stable Rust, so that an
//! input that once broke something is tried again by every `cargo test --workspace`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly in `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let check = rnats_fuzz_checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, check)| *check)
        .expect("a known target");
    let seeds = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        seeds.len() >= 5,
        "fuzz/corpus/{target}/ should hold the seed corpus, found {} files",
        seeds.len()
    );
    let crashes = files(&fuzz_dir().join("artifacts").join(target));
    let mut failed = Vec::new();
    for file in seeds.iter().chain(&crashes) {
        let data = std::fs::read(file).expect("a readable corpus file");
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs fail their check:\n{}",
        failed.len(),
        seeds.len() + crashes.len(),
        failed.join("\n")
    );
}

#[test]
fn client_parser_corpus() {
    replay("client_parser");
}

#[test]
fn route_parser_corpus() {
    replay("route_parser");
}

#[test]
fn conf_corpus() {
    replay("conf");
}

#[test]
fn jwt_corpus() {
    replay("jwt");
}

#[test]
fn sublist_corpus() {
    replay("sublist");
}

#[test]
fn every_target_is_replayed() {
    let names: Vec<&str> = rnats_fuzz_checks::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["client_parser", "route_parser", "conf", "jwt", "sublist"],
        "add a test above for a new target"
    );
    for name in names {
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "fuzz/fuzz_targets/{name}.rs"
        );
    }
}

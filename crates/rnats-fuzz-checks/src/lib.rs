//! The checks behind the fuzz targets in `fuzz/` (one module a target), kept in a crate of
//! the main workspace so that CI, on stable Rust, replays every file of `fuzz/corpus/<target>/`
//! and `fuzz/artifacts/<target>/` through exactly the code the fuzzers run on nightly
//! (`tests/corpus.rs`). A crash found once stays fixed.
//!
//! Each `check(data)` takes any bytes and panics when the code under test panics or breaks
//! one of the invariants written on the module; it never fails for input that is merely
//! invalid. The libraries keep no fuzzing code or feature of their own: everything here uses
//! their public API (the subscription index is `rnats_server::sublist`).

#![forbid(unsafe_code)]

pub mod client_parser;
pub mod conf;
pub mod jwt;
pub mod route_parser;
pub mod sublist;

/// A check: takes any bytes, panics when something breaks.
pub type Check = fn(&[u8]);

/// The fuzz targets, by the name of their directory in `fuzz/corpus/`, and their check.
pub const TARGETS: [(&str, Check); 5] = [
    ("client_parser", client_parser::check),
    ("route_parser", route_parser::check),
    ("conf", conf::check),
    ("jwt", jwt::check),
    ("sublist", sublist::check),
];

/// Ways to cut `data` into reads, each a sorted list of cut offsets: in halves, in thirds, at
/// a place that depends on the bytes, and at every line end (after each `\r`, before each
/// `\n`), where a control line split across reads is most likely to be misjudged.
pub(crate) fn cut_sets(data: &[u8]) -> Vec<Vec<usize>> {
    let n = data.len();
    let mixed = data.iter().fold(17usize, |h, &b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    let mut line_ends: Vec<usize> = data
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| match b {
            b'\r' => Some(i + 1),
            b'\n' => Some(i),
            _ => None,
        })
        .take(64)
        .collect();
    line_ends.dedup();
    vec![
        vec![n / 2],
        vec![n / 3, 2 * n / 3],
        vec![mixed % (n + 1)],
        line_ends,
    ]
}

/// The offsets at which the reads of `data` cut at `cuts` end (the last one is `data.len()`).
pub(crate) fn read_ends(data: &[u8], cuts: &[usize]) -> Vec<usize> {
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|&c| c < data.len()).collect();
    ends.push(data.len());
    ends.sort_unstable();
    ends.dedup();
    ends
}

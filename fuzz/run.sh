#!/usr/bin/env bash
# Runs one fuzz target for a while:  fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]
#
#   fuzz/run.sh client_parser 3600          # an hour
#   fuzz/run.sh sublist 36000 -jobs=4 -workers=4   # ten hours on four cores
#
# Targets: client_parser route_parser conf jwt sublist (fuzz/fuzz_targets/). Needs nightly
# Rust and cargo-fuzz (`rustup toolchain install nightly; cargo install cargo-fuzz`).
# New inputs go to fuzz/work/TARGET/ (not committed); the seeds in fuzz/corpus/TARGET/ are
# only read. A crash is saved in fuzz/artifacts/TARGET/, where `cargo test --workspace`
# replays it on stable until it is fixed (then move it to fuzz/corpus/TARGET/). The log,
# with libFuzzer's final statistics, is fuzz/work/TARGET.log.
#
# The code is all safe Rust, so the default is no sanitizer (faster); SANITIZER=address
# brings AddressSanitizer back for the C and unsafe code of dependencies.
set -euo pipefail

if [ $# -lt 1 ]; then
    sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
target=$1
seconds=${2:-600}
shift $(( $# < 2 ? $# : 2 ))

cd "$(dirname "$0")"
if [ ! -f "fuzz_targets/$target.rs" ]; then
    echo "run.sh: no target '$target'; the targets are:" $(cd fuzz_targets && ls | sed 's/\.rs$//') >&2
    exit 2
fi
mkdir -p "work/$target"
cargo +nightly fuzz run --sanitizer "${SANITIZER:-none}" --debug-assertions "$target" \
    "work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 "$@" 2>&1 | tee "work/$target.log"

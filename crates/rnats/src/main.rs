//! The `rnats` binary: everything is in the library (see `lib.rs`).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    rnats::main()
}

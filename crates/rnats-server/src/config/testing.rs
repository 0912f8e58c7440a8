//! What the unit tests of every block of `config/` share: mapping a
//! config text onto [`Options`] and reading back the options, the warnings
//! or the error. Tests only; uses nothing of `config/` but its entry point.

use rnats_conf::ParseOptions;

use super::{ConfigError, Warning, apply};
use crate::options::Options;

/// A public user NKey for the tests.
pub(super) const NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

pub(super) fn apply_text(text: &str) -> Result<(Options, Vec<Warning>), ConfigError> {
    let root = ParseOptions::new()
        .without_environment()
        .parse_str(text, "nats.conf")?;
    let mut opts = Options::default();
    let warnings = apply(&mut opts, &root)?;
    Ok((opts, warnings))
}

pub(super) fn options(text: &str) -> Options {
    match apply_text(text) {
        Ok((opts, warnings)) => {
            assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
            opts
        }
        Err(e) => panic!("{e}"),
    }
}

pub(super) fn warnings(text: &str) -> Vec<String> {
    match apply_text(text) {
        Ok((_, warnings)) => warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("{e}"),
    }
}

pub(super) fn error(text: &str) -> String {
    match apply_text(text) {
        Ok((opts, _)) => panic!("accepted, but should not have: {opts:?}"),
        Err(e) => e.to_string(),
    }
}

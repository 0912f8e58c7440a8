//! Shared helpers of `nkey`, `jwt` and `creds`: reading keys and seeds,
//! writing files that hold secrets, durations.

use std::io::Write;
use std::path::Path;

use rnats_jwt::nkeys::{KeyPair, KeyPairType};

pub type Result<T> = std::result::Result<T, String>;

/// A seed from a file: a bare seed, a `.nk` file, or a decorated block
/// (`.creds` files give their user seed).
pub fn read_seed(path: &Path) -> Result<KeyPair> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let seed = text
        .split(|c: char| c.is_whitespace())
        .find(|w| w.len() == 58 && w.starts_with('S'))
        .ok_or_else(|| format!("{} holds no NKey seed", path.display()))?;
    KeyPair::from_seed(seed).map_err(|e| format!("{}: not a valid seed: {e}", path.display()))
}

/// A public key given as itself, or as a file holding the key or a seed.
pub fn public_key(arg: &str, kind: KeyPairType) -> Result<String> {
    let key = match KeyPair::from_public_key(arg) {
        Ok(kp) => kp,
        Err(_) => {
            let path = Path::new(arg);
            if !path.exists() {
                return Err(format!("{arg:?} is neither a public key nor a file"));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            match text
                .split_whitespace()
                .find_map(|w| KeyPair::from_public_key(w).ok())
            {
                Some(kp) => kp,
                None => read_seed(path)?,
            }
        }
    };
    if key.key_pair_type() != kind {
        return Err(format!(
            "{arg:?} is a {:?} key, expected a {kind:?} key",
            key.key_pair_type()
        ));
    }
    Ok(key.public_key())
}

/// Writes a file only its owner may read (mode 0600), replacing it.
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    // An existing file keeps its mode on open: make sure.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    file.write_all(contents.as_bytes()).map_err(fail)
}

/// Writes a public file (a JWT, a config snippet), or prints it.
pub fn output(out: Option<&Path>, contents: &str) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            print!("{contents}");
            Ok(())
        }
    }
}

/// `90s`, `15m`, `12h`, `30d`, `2w`, `1y`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 90s, 15m, 12h, 30d, 1y)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(format!("invalid duration unit in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("duration {s:?} is too long"))
}

/// A point in time: `+DURATION` (from now), a duration (from now), or
/// seconds since the epoch (`@1700000000`), or `0` for never.
pub fn parse_time(s: &str) -> Result<i64> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    if let Some(epoch) = s.strip_prefix('@') {
        return epoch
            .parse()
            .map_err(|_| format!("invalid time {s:?}: expected @<unix seconds>"));
    }
    if let Some(ago) = s.strip_prefix('-') {
        return Ok(rnats_jwt::now_unix() - parse_duration(ago)?);
    }
    Ok(rnats_jwt::now_unix() + parse_duration(s.trim_start_matches('+'))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("1y").unwrap(), 365 * 86_400);
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(parse_time("@5").unwrap(), 5);
        assert_eq!(parse_time("0").unwrap(), 0);
        assert!(parse_time("-1h").unwrap() < rnats_jwt::now_unix());
    }
}

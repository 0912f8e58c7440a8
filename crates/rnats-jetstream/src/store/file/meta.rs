//! `meta.inf` and `meta.sum`: a stream's configuration beside its `msgs/`,
//! written by the stream layer through [`write_meta`] and read back with
//! [`read_meta`], as nats-server writes them: `meta.inf` is the JSON,
//! `meta.sum` the lowercase hex of its HighwayHash-64 keyed with SHA-256 of
//! the stream name; each file is written to a temporary file, fsynced and
//! renamed over the old one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use super::block;
use crate::store::StoreError;

pub const META_FILE: &str = "meta.inf";
pub const META_SUM_FILE: &str = "meta.sum";

/// The stream name in the configuration JSON (it keys the checksum).
fn name_of(json: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(default)]
        name: String,
    }
    serde_json::from_slice::<Named>(json)
        .map(|n| n.name)
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_atomically(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let result = (|| {
        let mut f = super::private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a stream's configuration `json` to `dir/meta.inf` and its
/// checksum to `dir/meta.sum`, each atomically.
pub fn write_meta(dir: &Path, json: &[u8]) -> Result<(), StoreError> {
    super::create_private_dirs(dir)?;
    let key = block::key_of(name_of(json).as_bytes());
    let sum = hex(&block::checksum(key, &[json]));
    write_atomically(dir, META_FILE, json)?;
    write_atomically(dir, META_SUM_FILE, sum.as_bytes())?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads `dir/meta.inf`, checked against `dir/meta.sum`
/// ([`StoreError::Corrupt`] when they disagree).
pub fn read_meta(dir: &Path) -> Result<Vec<u8>, StoreError> {
    let json = fs::read(dir.join(META_FILE))?;
    let sum = fs::read(dir.join(META_SUM_FILE))?;
    let key = block::key_of(name_of(&json).as_bytes());
    if hex(&block::checksum(key, &[&json])).as_bytes() != sum.trim_ascii() {
        tracing::warn!(dir = %dir.display(), "JetStream meta.inf does not match meta.sum");
        return Err(StoreError::Corrupt(format!(
            "{} does not match its checksum",
            dir.join(META_FILE).display()
        )));
    }
    Ok(json)
}

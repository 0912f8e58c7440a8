//! `meta.inf` and `meta.sum`: a stream's configuration beside its `msgs/`,
//! written by the stream layer through [`write_meta`] and read back with
//! [`read_meta`], as nats-server writes them: `meta.inf` is the JSON,
//! `meta.sum` the lowercase hex of its HighwayHash-64 keyed with SHA-256 of
//! the stream name; each file is written to a temporary file, fsynced and
//! renamed over the old one. With encryption, `meta.inf` is the JSON
//! sealed with the stream's key (`meta.key`, made when missing), and
//! `meta.sum` the checksum of the sealed bytes, as nats-server does.

use std::fs::{self, File};
use std::path::Path;

use super::{block, crypt};
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

/// Writes a stream's configuration `json` to `dir/meta.inf` (sealed when
/// `enc`) and its checksum to `dir/meta.sum`, each atomically.
pub fn write_meta(
    dir: &Path,
    json: &[u8],
    enc: Option<&crypt::Encryption>,
) -> Result<(), StoreError> {
    let skey = match enc {
        Some(enc) => Some(
            enc.stream_key(dir, &name_of(json), true)?
                .ok_or(StoreError::Encryption(crypt::KEY_INVALID))?,
        ),
        None => None,
    };
    write_meta_with(dir, json, skey.as_ref())
}

/// [`write_meta`] with the stream key at hand.
pub(crate) fn write_meta_with(
    dir: &Path,
    json: &[u8],
    skey: Option<&crypt::StreamKey>,
) -> Result<(), StoreError> {
    super::create_private_dirs(dir)?;
    let name = name_of(json);
    let sealed;
    let data = match skey {
        Some(skey) => {
            sealed = skey.seal(json);
            &sealed[..]
        }
        None => {
            if dir.join(crypt::META_KEY_FILE).exists() {
                return Err(StoreError::Encryption(crypt::NO_MAIN_KEY));
            }
            json
        }
    };
    let key = block::key_of(name.as_bytes());
    let sum = hex(&block::checksum(key, &[data]));
    super::write_atomically(&dir.join(META_FILE), data, true)?;
    super::write_atomically(&dir.join(META_SUM_FILE), sum.as_bytes(), true)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads `dir/meta.inf`, checked against `dir/meta.sum`
/// ([`StoreError::Corrupt`] when they disagree) and opened with the
/// stream's key when there is a `meta.key` (which needs `enc`: nats-server's
/// errors otherwise, or for a wrong key). Also says whether it was sealed.
pub fn read_meta(
    dir: &Path,
    enc: Option<&crypt::Encryption>,
) -> Result<(Vec<u8>, bool), StoreError> {
    let data = fs::read(dir.join(META_FILE))?;
    let sum = fs::read(dir.join(META_SUM_FILE))?;
    // nats-server keys a sealed file's checksum with the directory's name,
    // which is the stream's.
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sealed = dir.join(crypt::META_KEY_FILE).exists();
    let name = if sealed {
        dir_name.clone()
    } else {
        name_of(&data)
    };
    let key = block::key_of(name.as_bytes());
    if hex(&block::checksum(key, &[&data])).as_bytes() != sum.trim_ascii() {
        tracing::warn!(dir = %dir.display(), "JetStream meta.inf does not match meta.sum");
        return Err(StoreError::Corrupt(format!(
            "{} does not match its checksum",
            dir.join(META_FILE).display()
        )));
    }
    if !sealed {
        return Ok((data, false));
    }
    let enc = enc.ok_or(StoreError::Encryption(crypt::NO_MAIN_KEY))?;
    enc.settle_stream_key(dir, &dir_name)?;
    let (skey, converting) = match enc.stream_key(dir, &dir_name, false) {
        Ok(key) => (key, false),
        // Sealed with the other cipher: the store converts it when opened
        // (as nats-server does), and the caller seals meta.inf again.
        Err(StoreError::Encryption(crypt::KEY_INVALID)) => (
            enc.with_cipher(enc.cipher().other())
                .stream_key(dir, &dir_name, false)
                .map_err(|_| StoreError::Encryption(crypt::KEY_INVALID))?,
            true,
        ),
        Err(e) => return Err(e),
    };
    let skey = skey.ok_or(StoreError::Encryption(crypt::KEY_INVALID))?;
    match skey.open(&data) {
        Some(json) => Ok((json, !converting)),
        // The stream's key was made (encryption turned on for a plain
        // stream) but the process stopped before meta.inf was sealed.
        None if serde_json::from_slice::<serde_json::Value>(&data).is_ok() => Ok((data, false)),
        None => Err(StoreError::Encryption(crypt::KEY_INVALID)),
    }
}

//! Encryption at rest (`jetstream { cipher, key }`), with nats-server's
//! keys, files and primitives, so that either server opens the other's
//! encrypted store.
//!
//! - **Key encryption keys** come from the configured `key`:
//!   HMAC-SHA256 keyed with it over `<account><context>`, where the context
//!   is the stream name for the stream's key and `<stream>:<n>` for block
//!   `n`'s ([`Encryption::kek`]).
//! - **Sealed seeds.** Each asset has a random 32-byte seed, stored sealed
//!   by its key encryption key as `nonce ‖ AEAD(seed)`: the stream's in
//!   `meta.key` beside `meta.inf`, block `n`'s in `msgs/<n>.key`. The AEAD
//!   is XChaCha20-Poly1305 (`cipher: chachapoly`, 24-byte nonces) or
//!   AES-256-GCM with 16-byte nonces (`cipher: aes`).
//! - **The stream's seed** keys the same AEAD for whole files: `meta.inf`
//!   is `nonce ‖ AEAD(json)` (and `meta.sum` the checksum of those bytes),
//!   rnats's `index.db` likewise.
//! - **A block's seed** keys a stream cipher, with the nonce its key file
//!   starts with: XChaCha20 or AES-256-CTR (the nonce as the initial
//!   128-bit big-endian counter block). Byte `i` of a block file is byte
//!   `i` of its plain (or compressed) content XOR key stream byte `i`, so
//!   appending, truncating a torn tail and erasing in place all work at
//!   any offset without reading the rest.
//!
//! The key never leaves [`Encryption`] (whose `Debug` shows only the
//! cipher) and no error or log line names it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes::Aes256;
use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead as _, KeyInit};
use chacha20::XChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub use crate::config::Cipher;
use crate::store::StoreError;

/// The stream's sealed seed, beside `meta.inf`.
pub const META_KEY_FILE: &str = "meta.key";
/// A stream key being changed (a change of `cipher`), until `meta.inf` is
/// sealed with it.
const NEW_META_KEY_FILE: &str = "meta.key.new";
/// nats-server's shortest valid key file (`minMetaKeySize`, `minBlkKeySize`).
const MIN_KEY_FILE: usize = 64;
const SEED_LEN: usize = 32;

/// nats-server's error texts.
pub const KEY_INVALID: &str = "unable to recover keys";
pub const NO_MAIN_KEY: &str = "encrypted store encountered with no main key";
pub const BAD_KEY_SIZE: &str = "encryption bad key size";

/// The configured cipher and key, for one account's streams.
#[derive(Clone)]
pub struct Encryption {
    cipher: Cipher,
    /// HMAC-SHA256 keyed with the configured key, fed the account name:
    /// cloned for each derivation, so the key itself is not kept.
    prf: Arc<Hmac<Sha256>>,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl Encryption {
    /// Encryption with `key` for the streams of `account`.
    pub fn new(cipher: Cipher, key: &str, account: &str) -> Encryption {
        // HMAC takes keys of any length.
        let mut prf = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        prf.update(account.as_bytes());
        Encryption {
            cipher,
            prf: Arc::new(prf),
        }
    }

    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The same key with `cipher`.
    pub fn with_cipher(&self, cipher: Cipher) -> Encryption {
        Encryption {
            cipher,
            prf: self.prf.clone(),
        }
    }

    /// The key encryption key of `context` (nats-server's `prf`).
    fn kek(&self, context: &[u8]) -> Aead {
        let mut h = (*self.prf).clone();
        h.update(context);
        let bytes: [u8; 32] = h.finalize().into_bytes().into();
        Aead::new(self.cipher, &bytes)
    }

    /// Opens a sealed seed with the key encryption key of `context`;
    /// returns (seed, nonce).
    fn open_seed(&self, context: &[u8], sealed: &[u8]) -> Result<([u8; 32], Vec<u8>), StoreError> {
        if sealed.len() < MIN_KEY_FILE {
            return Err(StoreError::Encryption(BAD_KEY_SIZE));
        }
        let kek = self.kek(context);
        let ns = kek.nonce_size();
        let seed = kek
            .open_with(&sealed[..ns], &sealed[ns..])
            .filter(|s| s.len() == SEED_LEN)
            .ok_or(StoreError::Encryption(KEY_INVALID))?;
        let mut out = [0u8; SEED_LEN];
        out.copy_from_slice(&seed);
        Ok((out, sealed[..ns].to_vec()))
    }

    /// A new random seed sealed with the key encryption key of `context`:
    /// (seed, nonce, the key file's bytes).
    fn new_seed(&self, context: &[u8]) -> ([u8; 32], Vec<u8>, Vec<u8>) {
        let mut seed = [0u8; SEED_LEN];
        rand::rng().fill_bytes(&mut seed);
        let kek = self.kek(context);
        let mut nonce = vec![0u8; kek.nonce_size()];
        rand::rng().fill_bytes(&mut nonce);
        let mut file = nonce.clone();
        file.extend_from_slice(&kek.seal_with(&nonce, &seed));
        (seed, nonce, file)
    }

    /// The stream key of stream `name` from `dir/meta.key`; with `create`,
    /// a new one is made (and written) when there is none. Ok(None) when
    /// there is none and not `create`.
    pub fn stream_key(
        &self,
        dir: &Path,
        name: &str,
        create: bool,
    ) -> Result<Option<StreamKey>, StoreError> {
        let path = dir.join(META_KEY_FILE);
        match fs::read(&path) {
            Ok(sealed) => {
                let (seed, _) = self.open_seed(name.as_bytes(), &sealed)?;
                Ok(Some(StreamKey(Aead::new(self.cipher, &seed))))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                let (seed, _, file) = self.new_seed(name.as_bytes());
                super::create_private_dirs(dir)?;
                super::write_atomically(&path, &file, true)?;
                Ok(Some(StreamKey(Aead::new(self.cipher, &seed))))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A new stream key for stream `name`, written to `dir/meta.key.new`:
    /// it replaces `meta.key` ([`Encryption::settle_stream_key`]) once
    /// `meta.inf` is sealed with it.
    pub fn new_stream_key(&self, dir: &Path, name: &str) -> io::Result<StreamKey> {
        let (seed, _, file) = self.new_seed(name.as_bytes());
        super::write_atomically(&dir.join(NEW_META_KEY_FILE), &file, true)?;
        Ok(StreamKey(Aead::new(self.cipher, &seed)))
    }

    /// Finishes or forgets a change of stream key cut short: a
    /// `meta.key.new` that opens `meta.inf` replaces `meta.key`, any other
    /// is removed.
    pub fn settle_stream_key(&self, dir: &Path, name: &str) -> io::Result<()> {
        let new = dir.join(NEW_META_KEY_FILE);
        let Ok(sealed) = fs::read(&new) else {
            return Ok(());
        };
        let opens = self
            .open_seed(name.as_bytes(), &sealed)
            .ok()
            .and_then(|(seed, _)| {
                let meta = fs::read(dir.join(super::meta::META_FILE)).ok()?;
                StreamKey(Aead::new(self.cipher, &seed)).open(&meta)
            })
            .is_some();
        if opens {
            fs::rename(&new, dir.join(META_KEY_FILE))?;
            fs::File::open(dir)?.sync_all()
        } else {
            fs::remove_file(&new)
        }
    }

    /// Block `index`'s key from `msgs/<index>.key`; None when the block
    /// has no key file (a plain block).
    pub fn block_key(
        &self,
        mdir: &Path,
        name: &str,
        index: u32,
    ) -> Result<Option<BlockKey>, StoreError> {
        match fs::read(key_path(mdir, index)) {
            Ok(sealed) => {
                let (seed, nonce) =
                    self.open_seed(format!("{name}:{index}").as_bytes(), &sealed)?;
                Ok(Some(BlockKey::new(self.cipher, seed, &nonce)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A new key for block `index`, written to `msgs/<index>.key`
    /// (atomically; fsynced when `sync`).
    pub fn new_block_key(
        &self,
        mdir: &Path,
        name: &str,
        index: u32,
        sync: bool,
    ) -> io::Result<BlockKey> {
        let (key, file) = self.new_block_key_unwritten(name, index);
        super::write_atomically(&key_path(mdir, index), &file, sync)?;
        Ok(key)
    }

    /// A new key for block `index` and its key file's bytes, not written
    /// yet ([`write_block_key`]).
    pub fn new_block_key_unwritten(&self, name: &str, index: u32) -> (BlockKey, Vec<u8>) {
        let (seed, nonce, file) = self.new_seed(format!("{name}:{index}").as_bytes());
        (BlockKey::new(self.cipher, seed, &nonce), file)
    }
}

/// Writes block `index`'s key file (atomically, fsynced).
pub fn write_block_key(mdir: &Path, index: u32, file: &[u8]) -> io::Result<()> {
    super::write_atomically(&key_path(mdir, index), file, true)
}

/// Where block `index`'s key is kept.
pub fn key_path(mdir: &Path, index: u32) -> PathBuf {
    mdir.join(format!("{index}.key"))
}

/// The AEAD of a cipher: XChaCha20-Poly1305, or AES-256-GCM with 16-byte
/// nonces (Go's `cipher.NewGCMWithNonceSize(block, 16)`).
enum Aead {
    ChaCha(Box<XChaCha20Poly1305>),
    Aes(Box<AesGcm<Aes256, U16>>),
}

impl Aead {
    fn new(cipher: Cipher, key: &[u8; 32]) -> Aead {
        match cipher {
            Cipher::ChaCha => Aead::ChaCha(Box::new(XChaCha20Poly1305::new(key.into()))),
            Cipher::Aes => Aead::Aes(Box::new(AesGcm::<Aes256, U16>::new(key.into()))),
        }
    }

    fn nonce_size(&self) -> usize {
        match self {
            Aead::ChaCha(_) => 24,
            Aead::Aes(_) => 16,
        }
    }

    /// `plain` sealed with `nonce` (which has [`Self::nonce_size`] bytes).
    fn seal_with(&self, nonce: &[u8], plain: &[u8]) -> Vec<u8> {
        let sealed = match self {
            Aead::ChaCha(a) => a.encrypt(nonce.into(), plain),
            Aead::Aes(a) => a.encrypt(nonce.into(), plain),
        };
        // Encryption fails only for inputs past the ciphers' limits
        // (64 GiB), far beyond any file here.
        sealed.unwrap_or_default()
    }

    fn open_with(&self, nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if nonce.len() != self.nonce_size() {
            return None;
        }
        match self {
            Aead::ChaCha(a) => a.decrypt(nonce.into(), sealed).ok(),
            Aead::Aes(a) => a.decrypt(nonce.into(), sealed).ok(),
        }
    }
}

/// A stream's own key (the seed in `meta.key`): seals `meta.inf` and
/// `index.db` as `nonce ‖ AEAD(content)`.
pub struct StreamKey(Aead);

impl StreamKey {
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = vec![0u8; self.0.nonce_size()];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self.0.seal_with(&nonce, plain);
        nonce.extend_from_slice(&sealed);
        nonce
    }

    /// None when `buf` was not sealed with this key, or was changed.
    pub fn open(&self, buf: &[u8]) -> Option<Vec<u8>> {
        let ns = self.0.nonce_size();
        if buf.len() < ns {
            return None;
        }
        self.0.open_with(&buf[..ns], &buf[ns..])
    }
}

/// A block's key stream (seed and nonce from its key file).
#[derive(Clone)]
pub struct BlockKey {
    cipher: Cipher,
    seed: [u8; 32],
    nonce: [u8; 24],
}

impl std::fmt::Debug for BlockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockKey(..)")
    }
}

impl BlockKey {
    fn new(cipher: Cipher, seed: [u8; 32], nonce: &[u8]) -> BlockKey {
        let mut n = [0u8; 24];
        let len = nonce.len().min(24);
        n[..len].copy_from_slice(&nonce[..len]);
        BlockKey {
            cipher,
            seed,
            nonce: n,
        }
    }

    /// Encrypts (or decrypts: the same) `buf`, which sits at `offset` in
    /// the block file.
    pub fn apply(&self, offset: u64, buf: &mut [u8]) {
        if buf.is_empty() {
            return;
        }
        match self.cipher {
            Cipher::ChaCha => {
                let mut c = XChaCha20::new(&self.seed.into(), &self.nonce.into());
                c.seek(offset);
                c.apply_keystream(buf);
            }
            Cipher::Aes => {
                let iv: [u8; 16] = self.nonce[..16].try_into().unwrap_or([0; 16]);
                let mut c = ctr::Ctr128BE::<Aes256>::new(&self.seed.into(), &iv.into());
                c.seek(offset);
                c.apply_keystream(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_files_round_trip_and_need_the_right_key() {
        let tmp = tempfile::tempdir().unwrap();
        for cipher in [Cipher::ChaCha, Cipher::Aes] {
            let dir = tmp.path().join(format!("{cipher:?}"));
            let enc = Encryption::new(cipher, "s3cr3t", "$G");
            let key = enc.stream_key(&dir, "S", true).unwrap().unwrap();
            let sealed = key.seal(b"{\"name\":\"S\"}");
            assert!(!sealed.windows(4).any(|w| w == b"name"));
            let again = enc.stream_key(&dir, "S", false).unwrap().unwrap();
            assert_eq!(again.open(&sealed).unwrap(), b"{\"name\":\"S\"}");
            let other = Encryption::new(cipher, "wrong", "$G");
            assert!(matches!(
                other.stream_key(&dir, "S", false),
                Err(StoreError::Encryption(KEY_INVALID))
            ));
            let other_account = Encryption::new(cipher, "s3cr3t", "A");
            assert!(other_account.stream_key(&dir, "S", false).is_err());
            let bk = enc.new_block_key(&dir, "S", 3, false).unwrap();
            let mut whole = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789".to_vec();
            bk.apply(0, &mut whole);
            // Any slice decrypts at its own offset.
            let mut part = whole[17..40].to_vec();
            let loaded = enc.block_key(&dir, "S", 3).unwrap().unwrap();
            loaded.apply(17, &mut part);
            assert_eq!(&part, b"hijklmnopqrstuvwxyz0123");
            assert!(enc.block_key(&dir, "S", 4).unwrap().is_none());
            assert!(
                Encryption::new(cipher, "wrong", "$G")
                    .block_key(&dir, "S", 3)
                    .is_err()
            );
            let shown = format!("{enc:?} {loaded:?}");
            assert!(!shown.contains("s3cr3t"));
        }
    }
}

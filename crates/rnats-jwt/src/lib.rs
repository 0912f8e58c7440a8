//! NATS decentralized authentication tokens, without I/O.
//!
//! Operators sign accounts, accounts (or their signing keys) sign users;
//! each is a JWT signed with an NKey ([`nkeys`]). This crate holds the
//! claims ([`UserClaims`], [`AccountClaims`], [`OperatorClaims`]), decodes
//! and verifies tokens ([`decode`]), signs new ones ([`encode`]), and reads
//! and writes `.creds` files ([`format_user_creds`], [`parse_creds`]).
//!
//! The encoding is written here rather than taken from a JWT crate: the
//! general ones (`jsonwebtoken` and the like) know EdDSA with raw or PEM
//! keys, not the `ed25519-nkey` algorithm with NKey issuers in `iss`, nor
//! JWT v1's signature over the payload alone.

#![forbid(unsafe_code)]

mod claims;
mod creds;
mod token;

pub use claims::*;
pub use creds::*;
pub use token::*;

pub use nkeys;

/// RFC 4648 base32 without padding (the NATS libraries' `jti`).
pub(crate) fn base32_no_pad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

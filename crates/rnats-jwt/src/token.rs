//! The token itself: `header.payload.signature`, each part base64url
//! without padding. The header says `{"typ":"JWT","alg":"ed25519-nkey"}`;
//! the signature is Ed25519 by the issuer's NKey over `header.payload`
//! (JWT v1, `alg` `ed25519`, signed the payload part only).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::{KeyPair, KeyPairType};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha512_256};

use crate::claims::{AccountClaims, ClaimKind, Claims, OperatorClaims, UserClaims};

/// The `alg` of the JWTs the NATS tools write.
pub const ALGORITHM: &str = "ed25519-nkey";
/// The `alg` of JWT v1 (still accepted on decoding).
pub const ALGORITHM_V1: &str = "ed25519";
/// The highest claims version understood.
pub const LIB_VERSION: i64 = 2;
/// Longer tokens are refused before any decoding.
pub const MAX_TOKEN_LEN: usize = 1 << 20;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("malformed JWT: {0}")]
    Malformed(&'static str),
    #[error("JWT header: {0}")]
    Header(String),
    #[error("unsupported JWT algorithm {0:?}")]
    Algorithm(String),
    #[error("JWT claims: {0}")]
    Claims(String),
    #[error("JWT claims version {0} is newer than supported")]
    Version(i64),
    #[error("expected a {expected} JWT, found {found:?}")]
    WrongKind {
        expected: &'static str,
        found: String,
    },
    #[error("JWT issuer {0:?} is not a valid key of the kind that may sign it")]
    Issuer(String),
    #[error("JWT subject {0:?} is not a valid key of the expected kind")]
    Subject(String),
    #[error("JWT signature verification failed")]
    Signature,
    #[error("cannot sign: {0}")]
    Signing(String),
}

fn b64(part: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::Malformed("a part is not base64url without padding"))
}

/// Is `key` a valid public NKey of `kind`?
pub fn is_public_key_of(key: &str, kind: KeyPairType) -> bool {
    KeyPair::from_public_key(key).is_ok_and(|kp| kp.key_pair_type() == kind)
}

/// A token whose header and signature were checked, claims still raw.
struct Verified {
    kind: String,
    claims: serde_json::Value,
}

fn verify(token: &str) -> Result<Verified, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::Malformed("too long"));
    }
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("expected 3 parts"));
    };
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(default)]
        typ: String,
        #[serde(default)]
        alg: String,
    }
    let header: Header =
        serde_json::from_slice(&b64(h)?).map_err(|e| Error::Header(e.to_string()))?;
    if !header.typ.eq_ignore_ascii_case("JWT") {
        return Err(Error::Header(format!(
            "not supported type {:?}",
            header.typ
        )));
    }
    let alg = header.alg.to_ascii_lowercase();
    if alg != ALGORITHM && alg != ALGORITHM_V1 {
        return Err(Error::Algorithm(header.alg));
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&b64(p)?).map_err(|e| Error::Claims(e.to_string()))?;
    let obj = claims
        .as_object()
        .ok_or_else(|| Error::Claims("not a JSON object".into()))?;
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let nats = obj.get("nats").and_then(|n| n.as_object());
    let v1_kind = text(obj.get("type"));
    let (version, kind) = if !v1_kind.is_empty() {
        (1, v1_kind)
    } else {
        let version = nats
            .and_then(|n| n.get("version"))
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        (version, text(nats.and_then(|n| n.get("type"))))
    };
    if version > LIB_VERSION {
        return Err(Error::Version(version));
    }
    let sig = b64(s)?;
    let issuer = text(obj.get("iss"));
    let signer = KeyPair::from_public_key(&issuer).map_err(|_| Error::Issuer(issuer.clone()))?;
    let signed = if version <= 1 {
        p
    } else {
        &token[..h.len() + 1 + p.len()]
    };
    signer
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| Error::Signature)?;
    Ok(Verified { kind, claims })
}

/// Decodes a token of kind `N` and verifies its signature by its issuer
/// (who must be a key of a kind that may sign it). Whether the issuer is
/// trusted, and whether the JWT is expired, is for the caller to check.
pub fn decode<N>(token: &str) -> Result<Claims<N>, Error>
where
    N: ClaimKind + DeserializeOwned,
{
    let v = verify(token)?;
    if v.kind != N::KIND {
        return Err(Error::WrongKind {
            expected: N::KIND,
            found: v.kind,
        });
    }
    let mut claims: Claims<N> =
        serde_json::from_value(v.claims).map_err(|e| Error::Claims(e.to_string()))?;
    // The top-level fields of JWT v1 are moved into `nats`; in a later
    // version they mean nothing (as to the NATS `jwt` library) and are
    // dropped, so the claims hold only what they say.
    let v1_kind = std::mem::take(&mut claims.v1_kind);
    let v1_tags = std::mem::take(&mut claims.v1_tags);
    let v1_issuer_account = std::mem::take(&mut claims.v1_issuer_account);
    if !v1_kind.is_empty() {
        let generic = claims.nats.generic_mut();
        generic.kind = v1_kind;
        generic.tags = v1_tags;
        generic.version = 1;
        claims.nats.migrate_v1(v1_issuer_account);
    }
    if !N::ISSUERS
        .iter()
        .any(|k| is_public_key_of(&claims.issuer, k.clone()))
    {
        return Err(Error::Issuer(claims.issuer));
    }
    if !is_public_key_of(&claims.subject, N::SUBJECT) {
        return Err(Error::Subject(claims.subject));
    }
    Ok(claims)
}

pub fn decode_user(token: &str) -> Result<UserClaims, Error> {
    decode(token)
}

pub fn decode_account(token: &str) -> Result<AccountClaims, Error> {
    decode(token)
}

pub fn decode_operator(token: &str) -> Result<OperatorClaims, Error> {
    decode(token)
}

/// The kind (`operator`, `account`, `user`, ...) of a token whose
/// signature verifies.
pub fn kind_of(token: &str) -> Result<String, Error> {
    Ok(verify(token)?.kind)
}

/// Signs `claims` with `signer`, as the NATS `jwt` library does: sets
/// `iss` to the signer's public key, `iat` to `now` unless already set,
/// `jti` to a hash of the claims, and `nats.type`/`nats.version`.
pub fn encode<N>(claims: &mut Claims<N>, signer: &KeyPair, now: i64) -> Result<String, Error>
where
    N: ClaimKind + Serialize,
{
    if !N::ISSUERS.contains(&signer.key_pair_type()) {
        return Err(Error::Signing(format!(
            "a {} JWT cannot be signed by a {:?} key",
            N::KIND,
            signer.key_pair_type()
        )));
    }
    if !is_public_key_of(&claims.subject, N::SUBJECT) {
        return Err(Error::Subject(claims.subject.clone()));
    }
    claims.issuer = signer.public_key();
    if claims.issued_at == 0 {
        claims.issued_at = now;
    }
    let generic = claims.nats.generic_mut();
    generic.kind = N::KIND.to_owned();
    generic.version = LIB_VERSION;
    claims.id = String::new();
    let hash =
        Sha512_256::digest(serde_json::to_vec(&claims).map_err(|e| Error::Claims(e.to_string()))?);
    claims.id = crate::base32_no_pad(&hash);
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"{ALGORITHM}"}}"#));
    let payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims).map_err(|e| Error::Claims(e.to_string()))?);
    let signed = format!("{header}.{payload}");
    let sig = signer
        .sign(signed.as_bytes())
        .map_err(|e| Error::Signing(e.to_string()))?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

//! JWT decoding (`rnats_jwt`). The input is read as UTF-8 (invalid sequences replaced) and
//! taken one of two ways:
//!
//! - **A token or a file holding one** (anything not starting with `{`): decoded as each kind
//!   of claims, and read as a `.creds` file and as a decorated JWT. A random token never
//!   passes its signature check, so this covers the framing, base64, header and size checks.
//! - **Claims JSON** (starting with `{`): signed here, with a fixed operator key for operator
//!   and account claims and a fixed account key for user claims (the kind is the claims' own
//!   `type`, or `nats.type`; user if neither), its `iss` set to that key, the way the decoder
//!   expects a token of that version to be signed. This is what reaches the claims decoding,
//!   the JWT v1 migration and the key checks.
//!
//! Invariants:
//! - no input panics;
//! - a token signed correctly always passes its signature check (`kind_of` gives its kind),
//!   unless its version is newer than supported;
//! - claims that decode, signed again by `encode`, decode to exactly what `encode` wrote.

use std::fmt::Debug;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rnats_jwt::nkeys::{KeyPair, KeyPairType};
use rnats_jwt::{Account, ClaimKind, Claims, Error, Operator, User};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The time `encode` is told it is (so a rerun gives the same token).
const NOW: i64 = 1_700_000_000;

fn key(kind: KeyPairType, fill: u8) -> KeyPair {
    KeyPair::new_from_raw(kind, [fill; 32]).expect("32 bytes make a key")
}

fn operator_key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| key(KeyPairType::Operator, 1))
}

fn account_key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| key(KeyPairType::Account, 2))
}

/// Decodes `data` as described on the module and panics if an invariant breaks.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if text.trim_start().starts_with('{') {
        signed_claims(&text);
    } else {
        token(&text);
        let _ = rnats_jwt::parse_creds(&text);
        let jwt = rnats_jwt::parse_decorated_jwt(&text);
        if jwt != text {
            token(&jwt);
        }
    }
}

/// Decodes `text` as a token of every kind; what decodes must survive a round trip.
fn token(text: &str) {
    let _ = rnats_jwt::kind_of(text);
    if let Ok(claims) = rnats_jwt::decode::<Operator>(text) {
        round_trip(claims, operator_key());
    }
    if let Ok(claims) = rnats_jwt::decode::<Account>(text) {
        round_trip(claims, operator_key());
    }
    if let Ok(claims) = rnats_jwt::decode::<User>(text) {
        round_trip(claims, account_key());
    }
}

fn signed_claims(text: &str) {
    let Some((jwt, kind)) = sign(text) else {
        return;
    };
    match rnats_jwt::kind_of(&jwt) {
        Ok(found) => assert_eq!(found, kind, "the kind of a token signed here"),
        Err(Error::Version(v)) => assert!(v > rnats_jwt::LIB_VERSION, "version {v} refused"),
        Err(Error::Malformed("too long")) => return,
        Err(e) => panic!("a token signed here fails its check: {e}"),
    }
    token(&jwt);
}

/// Claims JSON made into a token signed as the decoder expects (see the module), and the kind
/// it claims to be; `None` if the text is not a JSON object.
fn sign(text: &str) -> Option<(String, String)> {
    let Ok(serde_json::Value::Object(mut claims)) = serde_json::from_str(text) else {
        return None;
    };
    let string = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let nats = claims.get("nats").and_then(serde_json::Value::as_object);
    // As the decoder reads them: a `type` at the top level is JWT v1, else `nats.version`.
    let v1_kind = string(claims.get("type"));
    let (version, kind) = if v1_kind.is_empty() {
        (
            nats.and_then(|n| n.get("version"))
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
            string(nats.and_then(|n| n.get("type"))),
        )
    } else {
        (1, v1_kind)
    };
    let signer = match kind.as_str() {
        "operator" | "account" => operator_key(),
        _ => account_key(),
    };
    claims.insert("iss".into(), signer.public_key().into());
    let payload = serde_json::to_vec(&claims).expect("a JSON object serializes");
    let (alg, over_payload_only) = if version <= 1 {
        (rnats_jwt::ALGORITHM_V1, true)
    } else {
        (rnats_jwt::ALGORITHM, false)
    };
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"{alg}"}}"#));
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let signed = if over_payload_only {
        payload.clone()
    } else {
        format!("{header}.{payload}")
    };
    let signature = signer.sign(signed.as_bytes()).expect("a seed signs");
    let jwt = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature));
    Some((jwt, kind))
}

/// Signs `claims` again with `signer` and checks that the token decodes to what was signed.
fn round_trip<N>(claims: Claims<N>, signer: &KeyPair)
where
    N: ClaimKind + Serialize + DeserializeOwned + PartialEq + Debug + Clone,
{
    let mut written = claims;
    let jwt = match rnats_jwt::encode(&mut written, signer, NOW) {
        Ok(jwt) => jwt,
        Err(e) => panic!("claims that decoded cannot be encoded: {e}"),
    };
    match rnats_jwt::decode::<N>(&jwt) {
        Ok(read) => assert_eq!(read, written, "claims change on a round trip"),
        Err(Error::Malformed("too long")) => {}
        Err(e) => panic!("a token written by encode does not decode: {e}\n{written:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claims seeds must get through signing to the claims decoder, or the fuzzer would
    /// only ever see signature failures.
    #[test]
    fn claims_seeds_decode_once_signed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/jwt");
        let mut decoded = 0;
        for entry in std::fs::read_dir(dir).expect("the jwt seeds") {
            let path = entry.expect("an entry").path();
            if !path.to_string_lossy().ends_with(".claims.json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a seed");
            let (jwt, kind) = sign(&text).expect("a JSON object");
            let result = match kind.as_str() {
                "operator" => rnats_jwt::decode::<Operator>(&jwt).map(drop),
                "account" => rnats_jwt::decode::<Account>(&jwt).map(drop),
                _ => rnats_jwt::decode::<User>(&jwt).map(drop),
            };
            assert_eq!(result, Ok(()), "{}", path.display());
            decoded += 1;
        }
        assert!(decoded >= 5, "only {decoded} claims seeds");
    }
}

//! Tokens made by the standard NATS tooling decode and verify; tokens made
//! here round-trip; damaged ones are refused with a reason, never a panic.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rnats_jwt::nkeys::KeyPair;
use rnats_jwt::*;

const OP_JWT: &str = include_str!("fixtures/op.jwt");
const SYS_ACCOUNT_JWT: &str = include_str!("fixtures/sys_account.jwt");
const SIGNING_SEEDS: &str = include_str!("fixtures/op_signing_seeds.txt");
const DOCS_CREDS: &str = include_str!("fixtures/docs_example.creds");

#[test]
fn standard_tooling_operator_and_account_verify() {
    let op = decode_operator(&parse_decorated_jwt(OP_JWT)).unwrap();
    assert_eq!(
        op.subject,
        "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG"
    );
    assert_eq!(op.nats.signing_keys.len(), 3);
    assert_eq!(op.nats.generic.version, 1);
    assert_eq!(op.nats.generic.kind, "operator");
    let acc = decode_account(SYS_ACCOUNT_JWT).unwrap();
    assert!(op.did_sign(&acc.issuer));
    // The published signing seeds are the operator's signing keys.
    for seed in SIGNING_SEEDS.lines() {
        let kp = KeyPair::from_seed(seed).unwrap();
        assert!(op.did_sign(&kp.public_key()));
    }
}

#[test]
fn docs_creds_file_parses_and_its_jwt_verifies() {
    let (jwt, seed) = parse_creds(DOCS_CREDS).unwrap();
    let user = decode_user(&jwt).unwrap();
    assert_eq!(user.name, "omega");
    assert_eq!(
        user.issuer,
        "ABVSBM3U45DGYEUECKXQS7BENHWG7KFQUDRTEHAJASORPVWBZ4HOIKCH"
    );
    assert_eq!(
        KeyPair::from_seed(&seed).unwrap().public_key(),
        user.subject
    );
    assert_eq!(user.account(), user.issuer);
    // And the file this crate writes is the same, byte for byte.
    assert_eq!(format_user_creds(&jwt, &seed), DOCS_CREDS);
}

#[test]
fn round_trip_with_every_field() {
    let op = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let mut ac = AccountClaims::new_account(account.public_key());
    ac.name = "A".into();
    ac.nats.limits.conn = 3;
    ac.nats
        .signing_keys
        .push(SigningKey::Plain(KeyPair::new_account().public_key()));
    ac.nats.revocations.insert(user.public_key(), 100);
    ac.nats.exports.push(Export {
        subject: "svc.>".into(),
        kind: ExportType::Service,
        ..Export::default()
    });
    let token = encode(&mut ac, &op, 1000).unwrap();
    let back = decode_account(&token).unwrap();
    assert_eq!(back, ac);
    assert_eq!(back.nats.generic.version, 2);
    assert!(back.is_revoked(&user.public_key(), 100));
    assert!(!back.is_revoked(&user.public_key(), 101));

    let mut uc = UserClaims::new_user(user.public_key());
    uc.expires = 5000;
    uc.nats.limits.permissions.publish.allow = vec!["a.>".into()];
    uc.nats.limits.src = vec!["127.0.0.0/8".into()];
    uc.nats.limits.bearer_token = true;
    let token = encode(&mut uc, &account, 1000).unwrap();
    let back = decode_user(&token).unwrap();
    assert_eq!(back, uc);
    assert!(back.is_expired_at(5001));
    assert!(!back.is_expired_at(5000));
    // The header is the v2 one.
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    assert_eq!(header, br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
}

#[test]
fn wrong_signers_and_kinds_are_refused() {
    let user = KeyPair::new_user();
    let mut uc = UserClaims::new_user(user.public_key());
    assert!(encode(&mut uc, &KeyPair::new_operator(), 1).is_err());
    let token = encode(&mut uc, &KeyPair::new_account(), 1).unwrap();
    assert!(matches!(
        decode_account(&token),
        Err(Error::WrongKind { .. })
    ));
    // Subject of the wrong kind.
    let mut bad = UserClaims::new_user(KeyPair::new_account().public_key());
    assert!(encode(&mut bad, &KeyPair::new_account(), 1).is_err());
}

#[test]
fn tampering_and_garbage_are_refused() {
    let account = KeyPair::new_account();
    let mut uc = UserClaims::new_user(KeyPair::new_user().public_key());
    let token = encode(&mut uc, &account, 1).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    // Claims changed after signing.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["nats"]["bearer_token"] = true.into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(decode_user(&forged), Err(Error::Signature));
    // Signed by someone else but claiming the issuer.
    let other = KeyPair::new_account();
    let sig = other
        .sign(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    let wrong = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(decode_user(&wrong), Err(Error::Signature));
    // Unknown algorithm.
    let hs = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256"}"#);
    let alg = format!("{hs}.{}.{}", parts[1], parts[2]);
    assert!(matches!(decode_user(&alg), Err(Error::Algorithm(a)) if a == "HS256"));
    // Truncated, empty, binary, padded, huge.
    for bad in [
        "",
        ".",
        "..",
        "a.b.c",
        &token[..token.len() / 2],
        &format!("{token}.x"),
        &format!("{token}=="),
        "\u{0}\u{1}.\u{ff}.",
    ] {
        assert!(decode_user(bad).is_err(), "{bad:?}");
    }
    assert!(decode_user(&"a".repeat(2 << 20)).is_err());
    // A newer claims version.
    let mut c: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    c["nats"]["version"] = 3.into();
    let payload = URL_SAFE_NO_PAD.encode(c.to_string());
    let sig = account
        .sign(format!("{}.{payload}", parts[0]).as_bytes())
        .unwrap();
    let newer = format!("{}.{payload}.{}", parts[0], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(decode_user(&newer), Err(Error::Version(3)));
}

#[test]
fn creds_files_that_are_damaged_are_refused() {
    let (jwt, seed) = parse_creds(DOCS_CREDS).unwrap();
    let truncated = &DOCS_CREDS[..DOCS_CREDS.find("-----BEGIN USER").unwrap()];
    assert_eq!(parse_creds(truncated), Err(CredsError::NoSeed));
    assert_eq!(parse_creds(""), Err(CredsError::NoJwt));
    assert_eq!(parse_creds(&jwt), Err(CredsError::NoSeed));
    let account_seed = KeyPair::new_account().seed().unwrap();
    let wrong = DOCS_CREDS.replace(&seed, &account_seed);
    assert_eq!(parse_creds(&wrong), Err(CredsError::NotUserSeed));
    // CRLF line ends are fine.
    let crlf = DOCS_CREDS.replace('\n', "\r\n");
    assert_eq!(parse_creds(&crlf), Ok((jwt, seed)));
}

#[test]
fn scoped_signing_keys_and_cidr_strings_decode() {
    let json = r#"{"signing_keys":["AAA",{"kind":"user_template","key":"BBB","role":"r","template":{"pub":{"allow":["x"]},"sub":{},"subs":-1,"src":"10.0.0.0/8, 192.168.1.0/24"}}]}"#;
    let acc: Account = serde_json::from_str(json).unwrap();
    assert_eq!(acc.signing_keys[0], SigningKey::Plain("AAA".into()));
    let SigningKey::Scoped(scope) = &acc.signing_keys[1] else {
        panic!("not scoped")
    };
    assert_eq!(scope.template.permissions.publish.allow, ["x"]);
    assert_eq!(scope.template.src, ["10.0.0.0/8", "192.168.1.0/24"]);
    assert_eq!(scope.template.limits.subs, -1);
}

//! Credentials files (`.creds`): a user JWT and the user's NKey seed, each
//! between `-----BEGIN ...-----` / `------END ...------` lines, in exactly
//! the layout the NATS tools write and the client libraries read.

/// Why a credentials file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredsError {
    #[error("no user JWT found in the credentials")]
    NoJwt,
    #[error("no NKey seed found in the credentials")]
    NoSeed,
    #[error("the credentials' seed is not a user NKey seed")]
    NotUserSeed,
}

/// `-----BEGIN NATS <KIND> JWT-----` block, as the NATS tools decorate a JWT.
pub fn decorate_jwt(kind: &str, jwt: &str) -> String {
    let kind = kind.to_ascii_uppercase();
    format!("-----BEGIN NATS {kind} JWT-----\n{jwt}\n------END NATS {kind} JWT------\n\n")
}

/// The seed between the warning lines, as the NATS tools write it.
pub fn decorate_seed(seed: &str) -> String {
    let seed = seed.trim();
    let kind = match seed.get(..2) {
        Some("SA") => "ACCOUNT",
        Some("SO") => "OPERATOR",
        _ => "USER",
    };
    format!(
        "************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\
         \n\
         -----BEGIN {kind} NKEY SEED-----\n\
         {seed}\n\
         ------END {kind} NKEY SEED------\n\
         \n\
         *************************************************************\n"
    )
}

/// A `.creds` file: the decorated user JWT, then the decorated seed.
pub fn format_user_creds(jwt: &str, seed: &str) -> String {
    let mut out = decorate_jwt("user", jwt.trim());
    out.push_str(&decorate_seed(seed));
    out
}

/// The decorated blocks of a file in order: what stands between a line of
/// three or more dashes and the next such line (as the NATS libraries
/// read them: one token of `[A-Za-z0-9_.=-]` characters).
fn blocks(text: &str) -> Vec<&str> {
    let is_fence = |l: &str| {
        let l = l.trim();
        l.len() >= 6 && l.starts_with("---") && l.ends_with("---")
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_fence(lines[i]) && i + 2 < lines.len() && is_fence(lines[i + 2]) {
            let body = lines[i + 1].trim();
            if !body.is_empty()
                && body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
            {
                out.push(body);
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The user JWT and seed of a credentials file. A file holding just a JWT
/// (no decoration) gives that JWT and [`CredsError::NoSeed`].
pub fn parse_creds(text: &str) -> Result<(String, String), CredsError> {
    let found = blocks(text);
    let jwt = match found.first() {
        Some(jwt) => jwt.to_string(),
        None if !text.trim().is_empty() && !text.contains("---") => {
            return Err(CredsError::NoSeed);
        }
        None => return Err(CredsError::NoJwt),
    };
    let seed = found.get(1).ok_or(CredsError::NoSeed)?.to_string();
    if !seed.starts_with("SU") {
        return Err(CredsError::NotUserSeed);
    }
    Ok((jwt, seed))
}

/// A JWT read from a file or a config value: the first decorated block if
/// there is one, else the whole text trimmed.
pub fn parse_decorated_jwt(text: &str) -> String {
    match blocks(text).first() {
        Some(jwt) => jwt.to_string(),
        None => text.trim().to_string(),
    }
}

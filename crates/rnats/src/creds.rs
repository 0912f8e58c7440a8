//! `rnats creds`: write a user's credentials file (`.creds`), the user JWT
//! and the user's seed in the exact layout the NATS tools write and every
//! NATS client reads. The file is created with mode 0600.
//!
//! `rnats creds --jwt USER.jwt --seed USER.nk --out USER.creds`

use std::path::PathBuf;

use clap::Args;

use crate::keys::{self, Result};

#[derive(Debug, Args)]
pub struct CredsArgs {
    /// The user JWT file.
    #[arg(long)]
    pub jwt: PathBuf,
    /// The user's seed file.
    #[arg(long)]
    pub seed: PathBuf,
    /// The credentials file to write (mode 0600).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

pub fn run(args: &CredsArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.jwt)
        .map_err(|e| format!("cannot read {}: {e}", args.jwt.display()))?;
    let jwt = rnats_jwt::parse_decorated_jwt(&text);
    let user = rnats_jwt::decode_user(&jwt).map_err(|e| format!("{}: {e}", args.jwt.display()))?;
    let kp = keys::read_seed(&args.seed)?;
    if kp.public_key() != user.subject {
        return Err(format!(
            "the seed is for {}, but the JWT is about {}",
            kp.public_key(),
            user.subject
        ));
    }
    let seed = kp.seed().map_err(|e| e.to_string())?;
    keys::write_secret(&args.out, &rnats_jwt::format_user_creds(&jwt, &seed))
}

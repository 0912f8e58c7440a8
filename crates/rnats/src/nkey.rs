//! `rnats nkey`: NKeys as nats-server's `nk` tool makes and uses them.
//!
//! * `rnats nkey gen user|account|operator [--out FILE]`: a new key pair.
//!   Prints the seed and the public key; with `--out` the seed goes to FILE
//!   (mode 0600) and only the public key is printed.
//! * `rnats nkey pub SEED_FILE`: the public key of a seed.
//! * `rnats nkey sign SEED_FILE [--data TEXT | --file FILE]`: an Ed25519
//!   signature, base64url without padding (what a client sends as `sig`).
//! * `rnats nkey verify KEY --sig SIG [--data TEXT | --file FILE]`.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Args, Subcommand, ValueEnum};
use rnats_jwt::nkeys::{KeyPair, KeyPairType};

use crate::keys::{self, Result};

#[derive(Debug, Args)]
pub struct NkeyArgs {
    #[command(subcommand)]
    pub command: NkeyCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    User,
    Account,
    Operator,
    Server,
    Cluster,
}

impl Kind {
    fn key_type(self) -> KeyPairType {
        match self {
            Kind::User => KeyPairType::User,
            Kind::Account => KeyPairType::Account,
            Kind::Operator => KeyPairType::Operator,
            Kind::Server => KeyPairType::Server,
            Kind::Cluster => KeyPairType::Cluster,
        }
    }
}

/// What is signed or verified: `--data`, `--file`, or standard input.
#[derive(Debug, Args)]
pub struct Input {
    /// The text to sign or verify.
    #[arg(long, conflicts_with = "file")]
    pub data: Option<String>,
    /// A file whose bytes are signed or verified.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

impl Input {
    fn bytes(&self) -> Result<Vec<u8>> {
        match (&self.data, &self.file) {
            (Some(d), _) => Ok(d.as_bytes().to_vec()),
            (None, Some(f)) => {
                std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))
            }
            (None, None) => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .map_err(|e| format!("cannot read standard input: {e}"))?;
                Ok(buf)
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum NkeyCommand {
    /// Generate a key pair: prints the seed (keep it secret) and the public key.
    Gen {
        #[arg(value_enum)]
        kind: Kind,
        /// Write the seed to this file (mode 0600) instead of printing it.
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
    },
    /// Print the public key of a seed file.
    Pub { seed_file: PathBuf },
    /// Sign data with a seed; prints the signature (base64url, no padding).
    Sign {
        seed_file: PathBuf,
        #[command(flatten)]
        input: Input,
    },
    /// Verify a signature with a public key (or a seed file).
    Verify {
        key: String,
        /// The signature, base64url (or standard base64). It may start
        /// with `-`, as one in 64 that `sign` prints do.
        #[arg(long, allow_hyphen_values = true)]
        sig: String,
        #[command(flatten)]
        input: Input,
    },
}

pub fn run(args: &NkeyArgs) -> Result<()> {
    match &args.command {
        NkeyCommand::Gen { kind, out } => {
            let kp = KeyPair::new(kind.key_type());
            let seed = kp.seed().map_err(|e| e.to_string())?;
            match out {
                Some(path) => {
                    keys::write_secret(path, &format!("{seed}\n"))?;
                    println!("{}", kp.public_key());
                }
                None => {
                    println!("{seed}");
                    println!("{}", kp.public_key());
                }
            }
            Ok(())
        }
        NkeyCommand::Pub { seed_file } => {
            println!("{}", keys::read_seed(seed_file)?.public_key());
            Ok(())
        }
        NkeyCommand::Sign { seed_file, input } => {
            let kp = keys::read_seed(seed_file)?;
            let sig = kp.sign(&input.bytes()?).map_err(|e| e.to_string())?;
            println!("{}", URL_SAFE_NO_PAD.encode(sig));
            Ok(())
        }
        NkeyCommand::Verify { key, sig, input } => {
            let kp = match KeyPair::from_public_key(key) {
                Ok(kp) => kp,
                Err(_) => keys::read_seed(std::path::Path::new(key))?,
            };
            let sig = URL_SAFE_NO_PAD
                .decode(sig.trim())
                .or_else(|_| STANDARD.decode(sig.trim()))
                .map_err(|_| "the signature is not base64".to_string())?;
            kp.verify(&input.bytes()?, &sig)
                .map_err(|_| "signature verification failed".to_string())?;
            println!("Verified OK");
            Ok(())
        }
    }
}

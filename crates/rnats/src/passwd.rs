//! `rnats passwd`: nats-server's `mkpasswd` tool.
//!
//! Makes a bcrypt hash to put in a config file in place of a plain `password` or `token`
//! (the server recognises `$2a$…` values and checks clients against them with bcrypt).
//!
//! * `rnats passwd` generates a strong random password and prints
//!   `pass: <password>` then `bcrypt hash: <hash>`.
//! * `rnats passwd -p` asks for a password twice without echo (`Enter Password: `,
//!   `Reenter Password: `) and prints only `bcrypt hash: <hash>`. When standard input is not a
//!   terminal it reads the two entries as two lines from standard input instead, so it can be
//!   scripted.
//! * `--cost N` (`-c N`, as in mkpasswd) sets the bcrypt cost, 4 to 31, default 11.
//!
//! Hashes carry the `$2a$` prefix, as Go's bcrypt (and so nats-server's mkpasswd) writes them.
//!
//! Generated passwords are 22 characters like mkpasswd's, but drawn from letters, digits and
//! `- . _ ~` instead of mkpasswd's `!@$#%^&*()`, and always start with a letter: such a password
//! can be written unquoted as a config value (no `$` variable reference, no `#` comment, never
//! read as a number) and put in a `nats://user:pass@host` URL or a shell command as it is.
//! That is about 132 bits of entropy (mkpasswd's: about 136).

use std::io::{self, BufRead, IsTerminal, Write};

use clap::Args;
use rand::{CryptoRng, Rng};

/// Length of a generated password, as in mkpasswd.
pub const PASSWORD_LENGTH: usize = 22;
/// The bcrypt cost used unless `--cost` says otherwise, as in mkpasswd.
pub const DEFAULT_COST: u32 = 11;
/// The lowest bcrypt cost.
pub const MIN_COST: u32 = 4;
/// The highest bcrypt cost.
pub const MAX_COST: u32 = 31;
/// bcrypt looks at no more than this many bytes of a password; longer ones are refused, as
/// Go's bcrypt does, rather than silently cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// The characters a generated password's first character is drawn from.
pub const FIRST_CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The characters the rest of a generated password is drawn from: letters, digits and the
/// symbols that URLs leave unescaped and NATS config files read as part of a bare word.
pub const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// The `passwd` subcommand's options.
#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// Enter the password (asked twice, without echo) instead of generating one. Reads two
    /// lines from standard input when it is not a terminal.
    #[arg(short = 'p', long = "password")]
    pub password: bool,

    /// The bcrypt cost (work factor), from 4 to 31.
    #[arg(
        short = 'c',
        long = "cost",
        value_name = "N",
        default_value_t = DEFAULT_COST,
        value_parser = parse_cost,
        allow_negative_numbers = true
    )]
    pub cost: u32,
}

/// Why `rnats passwd` failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("the bcrypt cost must be between {MIN_COST} and {MAX_COST}, got {0}")]
    CostOutOfRange(u32),
    #[error("passwords do not match")]
    Mismatch,
    #[error("the password is empty")]
    Empty,
    #[error("the password is {0} bytes long; bcrypt allows at most {MAX_PASSWORD_BYTES}")]
    TooLong(usize),
    #[error(
        "expected the password twice on standard input, one per line, but it ended after {0} \
         line(s)"
    )]
    MissingInput(usize),
    #[error("reading the password: {0}")]
    Io(#[from] io::Error),
    #[error("producing the bcrypt hash: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the bcrypt hash produced does not verify the password")]
    SelfCheck,
}

/// Parses a `--cost` value, refusing anything outside `MIN_COST..=MAX_COST`.
pub fn parse_cost(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|cost| (MIN_COST..=MAX_COST).contains(cost))
        .ok_or_else(|| {
            format!("the bcrypt cost must be an integer between {MIN_COST} and {MAX_COST}")
        })
}

/// A fresh random password from the thread's cryptographically secure generator.
pub fn generate_password() -> String {
    generate_password_with(&mut rand::rng())
}

/// A random password of [`PASSWORD_LENGTH`] characters: one from [`FIRST_CHARSET`], then the
/// rest from [`CHARSET`], each drawn uniformly from `rng`.
pub fn generate_password_with<R: Rng + CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    password.push(char::from(
        FIRST_CHARSET[rng.random_range(0..FIRST_CHARSET.len())],
    ));
    for _ in 1..PASSWORD_LENGTH {
        password.push(char::from(CHARSET[rng.random_range(0..CHARSET.len())]));
    }
    password
}

/// The bcrypt hash of `password` at `cost`, in Go's `$2a$` form (`$2a$11$` + 53 characters).
pub fn hash_password(password: &str, cost: u32) -> Result<String, PasswdError> {
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(PasswdError::CostOutOfRange(cost));
    }
    if password.is_empty() {
        return Err(PasswdError::Empty);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswdError::TooLong(password.len()));
    }
    let parts = bcrypt::hash_with_result(password, cost)?;
    Ok(parts.format_for_version(bcrypt::Version::TwoA))
}

/// Whether `hash` is a bcrypt hash of `password` (false too if `hash` is not a bcrypt hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// The password when both entries are the same, else [`PasswdError::Mismatch`].
pub fn confirm(first: String, second: &str) -> Result<String, PasswdError> {
    if first == second {
        Ok(first)
    } else {
        Err(PasswdError::Mismatch)
    }
}

/// Reads the password and its confirmation as two lines (`\n` or `\r\n` ended; the last may
/// lack its end) and returns it if they match.
pub fn read_confirmed_lines<R: BufRead>(mut input: R) -> Result<String, PasswdError> {
    let first = read_line(&mut input)?.ok_or(PasswdError::MissingInput(0))?;
    let second = read_line(&mut input)?.ok_or(PasswdError::MissingInput(1))?;
    confirm(first, &second)
}

/// One line without its line end, or `None` at the end of input.
fn read_line<R: BufRead>(input: &mut R) -> io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(Some(line))
}

/// Asks for the password twice on the terminal, without echo.
fn prompt_confirmed() -> Result<String, PasswdError> {
    let first = rpassword::prompt_password("Enter Password: ")?;
    let second = rpassword::prompt_password("Reenter Password: ")?;
    confirm(first, &second)
}

/// [`hash_password`], then checks that the hash verifies the password before handing it out.
pub fn hash_checked(password: &str, cost: u32) -> Result<String, PasswdError> {
    let hash = hash_password(password, cost)?;
    if verify_password(password, &hash) {
        Ok(hash)
    } else {
        Err(PasswdError::SelfCheck)
    }
}

/// What `rnats passwd` prints: for an `entered` password, only its `bcrypt hash:` line; with
/// none, a newly generated password's `pass:` line and then its `bcrypt hash:` line.
pub fn render(entered: Option<&str>, cost: u32) -> Result<String, PasswdError> {
    match entered {
        Some(password) => Ok(format!("bcrypt hash: {}\n", hash_checked(password, cost)?)),
        None => {
            let password = generate_password();
            let hash = hash_checked(&password, cost)?;
            Ok(format!("pass: {password}\nbcrypt hash: {hash}\n"))
        }
    }
}

/// Runs `rnats passwd`, printing its result on standard output.
pub fn run(args: &PasswdArgs) -> Result<(), PasswdError> {
    let entered = if args.password {
        let stdin = io::stdin();
        Some(if stdin.is_terminal() {
            prompt_confirmed()?
        } else {
            read_confirmed_lines(stdin.lock())?
        })
    } else {
        None
    };
    let text = render(entered.as_deref(), args.cost)?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const FAST: u32 = MIN_COST;

    #[test]
    fn generated_passwords_have_the_length_and_charset() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let password = generate_password_with(&mut rng);
            assert_eq!(password.len(), PASSWORD_LENGTH, "{password}");
            let bytes = password.as_bytes();
            assert!(FIRST_CHARSET.contains(&bytes[0]), "{password}");
            assert!(bytes.iter().all(|b| CHARSET.contains(b)), "{password}");
        }
        let password = generate_password();
        assert_eq!(password.len(), PASSWORD_LENGTH);
        assert!(password.bytes().all(|b| CHARSET.contains(&b)));
    }

    #[test]
    fn generation_uses_the_whole_charset_and_differs_each_time() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut seen = [false; 256];
        for _ in 0..500 {
            for b in generate_password_with(&mut rng).bytes() {
                seen[usize::from(b)] = true;
            }
        }
        assert!(CHARSET.iter().all(|&b| seen[usize::from(b)]));
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn charset_needs_no_quoting_in_config_or_url() {
        let unreserved = |b: &u8| b.is_ascii_alphanumeric() || b"-._~".contains(b);
        assert!(CHARSET.iter().all(unreserved));
        assert!(FIRST_CHARSET.iter().all(u8::is_ascii_alphabetic));
    }

    #[test]
    fn hash_verifies_the_password_and_has_the_go_prefix() {
        let hash = hash_password("s3cr3t pass", FAST).unwrap();
        assert!(hash.starts_with("$2a$04$"), "{hash}");
        assert_eq!(hash.len(), 60);
        assert!(verify_password("s3cr3t pass", &hash));
        assert!(!verify_password("s3cr3t pas", &hash));
        assert!(!verify_password("s3cr3t pass", "not a hash"));
    }

    #[test]
    fn cost_is_respected() {
        for cost in [4, 5, 6] {
            let hash = hash_password("pw", cost).unwrap();
            assert!(hash.starts_with(&format!("$2a${cost:02}$")), "{hash}");
            assert!(verify_password("pw", &hash));
        }
    }

    #[test]
    fn out_of_range_costs_are_refused() {
        for cost in [0, 3, 32, 100] {
            assert!(matches!(
                hash_password("pw", cost),
                Err(PasswdError::CostOutOfRange(c)) if c == cost
            ));
        }
        assert_eq!(parse_cost("4"), Ok(4));
        assert_eq!(parse_cost("31"), Ok(31));
        assert_eq!(parse_cost("11"), Ok(DEFAULT_COST));
        for text in ["3", "32", "-1", "", "x"] {
            let message = parse_cost(text).unwrap_err();
            assert!(message.contains("between 4 and 31"), "{message}");
        }
    }

    #[test]
    fn empty_and_overlong_passwords_are_refused() {
        assert!(matches!(hash_password("", FAST), Err(PasswdError::Empty)));
        let longest = "x".repeat(MAX_PASSWORD_BYTES);
        assert!(verify_password(
            &longest,
            &hash_password(&longest, FAST).unwrap()
        ));
        let too_long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(
            hash_password(&too_long, FAST),
            Err(PasswdError::TooLong(73))
        ));
    }

    #[test]
    fn mismatched_entries_are_refused() {
        assert!(matches!(
            confirm("one".into(), "two"),
            Err(PasswdError::Mismatch)
        ));
        assert_eq!(confirm("same".into(), "same").unwrap(), "same");
        let error = read_confirmed_lines(&b"alpha\nbeta\n"[..]).unwrap_err();
        assert!(matches!(error, PasswdError::Mismatch));
        assert_eq!(error.to_string(), "passwords do not match");
    }

    #[test]
    fn two_lines_are_read_without_their_line_ends() {
        assert_eq!(read_confirmed_lines(&b"pw\npw\n"[..]).unwrap(), "pw");
        assert_eq!(read_confirmed_lines(&b"pw\r\npw\r\n"[..]).unwrap(), "pw");
        assert_eq!(read_confirmed_lines(&b"pw\npw"[..]).unwrap(), "pw");
        assert_eq!(
            read_confirmed_lines(&b" a b \n a b \nignored\n"[..]).unwrap(),
            " a b "
        );
        assert!(matches!(
            read_confirmed_lines(&b""[..]),
            Err(PasswdError::MissingInput(0))
        ));
        assert!(matches!(
            read_confirmed_lines(&b"pw\n"[..]),
            Err(PasswdError::MissingInput(1))
        ));
    }

    #[test]
    fn render_prints_mkpasswd_lines() {
        let text = render(Some("hunter2"), FAST).unwrap();
        let hash = text
            .strip_prefix("bcrypt hash: ")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap();
        assert!(verify_password("hunter2", hash));

        let text = render(None, FAST).unwrap();
        let mut lines = text.lines();
        let password = lines.next().unwrap().strip_prefix("pass: ").unwrap();
        let hash = lines.next().unwrap().strip_prefix("bcrypt hash: ").unwrap();
        assert_eq!(lines.next(), None);
        assert_eq!(password.len(), PASSWORD_LENGTH);
        assert!(hash.starts_with("$2a$04$"));
        assert!(verify_password(password, hash));
    }
}

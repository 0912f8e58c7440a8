//! `rnats mapping SOURCE DESTINATION [SUBJECT...]`: test a subject mapping
//! before deploying it, as `nats server mapping` does. The mapping is
//! checked as the server checks a `mappings {}` entry
//! (`rnats_proto::transform::validate_mapping`, so what passes here is
//! accepted in a config file), then each subject is printed mapped, or
//! `Error: ...` and an empty line when it does not match, each followed by
//! an empty line. Without subjects, subjects are read from standard input,
//! one a line, until an empty line or the end.
//!
//! `{{random(n)}}` gives a new number each time; `{{partition(n,...)}}`
//! gives the partition nats-server would give.

use std::io::{BufRead, Write};

use clap::Args;
use rnats_proto::transform::{SubjectTransform, validate_mapping};

#[derive(Debug, Args)]
pub struct MappingArgs {
    /// Source subject pattern (`*` and `>` wildcards).
    pub source: String,
    /// Destination pattern: `$1` or `{{wildcard(1)}}` references and mapping functions.
    pub destination: String,
    /// Subjects to transform (read from stdin when there are none).
    pub subjects: Vec<String>,
}

pub fn run(args: &MappingArgs) -> Result<(), String> {
    validate_mapping(&args.source, &args.destination).map_err(|e| e.to_string())?;
    let transform =
        SubjectTransform::new(&args.source, &args.destination).map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| e.to_string();
    if !args.subjects.is_empty() {
        for subject in &args.subjects {
            show(&mut out, &transform, subject).map_err(io)?;
        }
        return Ok(());
    }
    writeln!(out, "Enter subjects to test, empty subject terminates.\n").map_err(io)?;
    writeln!(
        out,
        "NOTE: This only tests mappings, it does not add them to the server\n"
    )
    .map_err(io)?;
    out.flush().map_err(io)?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(io)?;
        let subject = line.trim_end_matches('\r');
        if subject.is_empty() {
            break;
        }
        show(&mut out, &transform, subject).map_err(io)?;
        out.flush().map_err(io)?;
    }
    Ok(())
}

/// One subject as `nats server mapping` prints it.
fn show(out: &mut impl Write, transform: &SubjectTransform, subject: &str) -> std::io::Result<()> {
    match transform.apply(subject.as_bytes()) {
        Ok(mapped) => {
            out.write_all(&mapped)?;
            writeln!(out, "\n")
        }
        Err(error) => writeln!(out, "Error: {error}\n\n"),
    }
}

//! `custody-archive`: runs `custody archive`, `compare`, `detect` and
//! `redact`, which `custody` hands to it. Kept apart because it links FFmpeg's libraries,
//! whose loading would slow every other command down.

mod archive;
mod archive_args;
#[allow(dead_code)]
mod common;
mod redact;
mod redact_args;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "custody",
    version,
    about = "Archival and redacted derivatives of recorder media, proven against their originals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make archival derivatives with FFmpeg, each proven against its original.
    Archive(Box<archive_args::ArchiveArgs>),
    /// Compare two files by their decoded pictures and sound.
    Compare(archive_args::CompareArgs),
    /// Find faces and licence plates, picture by picture.
    Detect(redact_args::DetectArgs),
    /// Make a redacted copy with its redaction log.
    Redact(Box<redact_args::RedactArgs>),
}

fn main() -> ExitCode {
    custody_io::default_sigpipe();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Detect(_) | Command::Redact(_)) {
        // The detectors' tensors are reused instead of mapped afresh per picture.
        custody_io::retain_freed_memory();
    }
    match &cli.command {
        Command::Archive(args) => archive::run(args),
        Command::Compare(args) => archive::compare(args),
        Command::Detect(args) => redact::detect(args),
        Command::Redact(args) => redact::redact(args),
    }
}

//! The `custody` command. Each subcommand parses its arguments, calls the
//! library and prints the result; it holds no logic of its own.

mod archive_args;
mod common;
mod evidence;
mod hash;
mod probe;
mod redact_args;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "custody",
    version,
    about = "Evidence-grade tools for law-enforcement recorder media"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe recordings: container, tracks, codecs, sample counts, metadata.
    ///
    /// Exit 0 when every file was described, 2 when any could not be read,
    /// recognised or parsed (each named on stderr, and in the JSON).
    Probe(ProbeArgs),
    /// Hash files: BLAKE3 + SHA-256 in one pass, chunk trees, content hashes.
    ///
    /// Exit 0 when every file was hashed, 2 when any could not be.
    Hash(hash::HashArgs),
    /// Find the byte ranges of a file that changed since its chunk tree was made.
    ///
    /// Exit 0 when the file matches its tree, 1 when it changed, 2 on error.
    Locate(hash::LocateArgs),
    /// Manage the station's signing key.
    ///
    /// Exit 0 on success, 2 on error (no key, a key others can read, a key
    /// that is not one of the store's).
    #[command(subcommand)]
    Key(evidence::KeyCommand),
    /// Collect a recorder's files into a store: copy, verify, register, sign, log.
    ///
    /// Exit 0 when every file was registered or already present (the
    /// recorder is fully collected); 1 when it was not fully collected: a
    /// file was refused, or deferred because it is still being written
    /// (collect again later), or an earlier interrupted run's leftovers
    /// could not be completed or rolled back (the output names each one and
    /// why); 2 when ingest could not run.
    ///
    /// Each run first completes (manifest written from the stored object) or
    /// rolls back (an object never logged is removed) what an interrupted
    /// run left, and reports it. Ctrl-C stops between files: the files begun
    /// finish, the others are reported deferred (exit 1).
    Ingest(evidence::IngestArgs),
    /// The custody log: print its signed head to keep elsewhere.
    ///
    /// Exit 0 on success, 2 on error (not a store, an empty log).
    #[command(subcommand)]
    Log(evidence::LogCommand),
    /// Verify a store (read-only): keys, the signed log, manifests, objects, and their cross-references.
    ///
    /// Exit 0 when everything holds, 1 when anything fails (each failure is
    /// named), 2 when verification could not run (not a store, bad arguments).
    Verify(evidence::VerifyArgs),
    /// Supervision: recordings, gaps, overlaps, truncated files, clock anomalies, officers' days.
    ///
    /// Exit 0 on success (manifests that do not verify are listed as
    /// unverified and left out), 2 on error.
    Report(evidence::ReportArgs),
    /// The store's catalog: list registrations, or rebuild it from the manifests.
    ///
    /// Exit 0 on success, 1 when a rebuild left out manifests that do not
    /// verify, 2 on error.
    #[command(subcommand)]
    Catalog(evidence::CatalogCommand),
    /// Make archival derivatives with FFmpeg, each proven against its original:
    /// remux-mkv, remux-mp4, preservation (FFV1 + lossless audio), access
    /// (H.264 + AAC), join (segments), clip (--from/--to, cut at keyframes).
    ///
    /// With --store, each proven output is registered in the evidence store
    /// as a derivative of its (registered) sources; with --overlay, an access
    /// copy shows the UTC time, device and officer.
    ///
    /// Exit 0 when every output was written and its proof holds (tracks the
    /// target cannot hold are listed as dropped) and, with --store, it is
    /// registered; 1 when a proof failed (that output is removed, nothing is
    /// registered); 2 when a job could not run (a damaged, truncated or empty
    /// input, named with its position; nothing is left behind; with --store,
    /// a source not registered in the store or a key that is not the store's).
    Archive(archive_args::ArchiveArgs),
    /// Compare two files by their decoded pictures and sound.
    ///
    /// Exit 0 when identical, 1 when they differ (the first differing
    /// picture, plane and position, and how many differ), 2 on error.
    Compare(archive_args::CompareArgs),
    /// Find faces and licence plates in videos and pictures, picture by
    /// picture (for review tools and for measuring recall).
    ///
    /// Exit 0 when every file was looked at (whether or not anything was
    /// found), 2 when one could not be (a damaged input, a model missing or
    /// not the one pinned: the message names the set-up command).
    Detect(redact_args::DetectArgs),
    /// Make a redacted copy of a recording: faces, plates and manual
    /// regions masked in every picture, time ranges of the sound muted or
    /// bleeped (--mute, --bleep; otherwise the sound is kept), with a
    /// redaction log (JSON) and its tracks (CSV) beside the copy.
    ///
    /// With --store, the copy is registered in the evidence store as a
    /// derivative of the original (which must be registered there).
    ///
    /// Exit 0 when the copy was written, holds every picture of the
    /// original at its time and, with --store, is registered; 1 when that
    /// check failed (the copy is removed, nothing is registered); 2 when it
    /// could not be made (a damaged input, a model missing or not the one
    /// pinned, a bad regions file or time range; nothing is left behind).
    Redact(Box<redact_args::RedactArgs>),
}

#[derive(clap::Args)]
pub(crate) struct ProbeArgs {
    /// Files to probe.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Print JSON (one object per file; an array for several files).
    #[arg(long)]
    pub(crate) json: bool,
    /// Include each track's sample index (offset, size, dts, pts, keyframe).
    #[arg(long)]
    pub(crate) samples: bool,
    /// Include the ISO-BMFF box tree.
    #[arg(long)]
    pub(crate) boxes: bool,
    /// Treat every recoverable problem as an error.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Init segment for media segments (.m4s).
    #[arg(long, value_name = "FILE")]
    pub(crate) init: Option<PathBuf>,
    /// Never map files: read only what the probe needs (an MP4's index, a
    /// TS/PS front to back through a window). Use for removable media.
    #[arg(long)]
    pub(crate) no_mmap: bool,
}

fn main() -> ExitCode {
    custody_io::default_sigpipe();
    let cli = Cli::parse();
    match &cli.command {
        Command::Probe(args) => probe::run(args),
        Command::Hash(args) => hash::run(args),
        Command::Locate(args) => hash::locate(args),
        Command::Key(cmd) => evidence::key(cmd),
        Command::Ingest(args) => evidence::run_ingest(args),
        Command::Log(cmd) => evidence::log(cmd),
        Command::Verify(args) => evidence::run_verify(args),
        Command::Report(args) => evidence::run_report(args),
        Command::Catalog(cmd) => evidence::catalog(cmd),
        // Run by `custody-archive`, beside this binary: only it loads
        // FFmpeg's libraries (tens of milliseconds at every start).
        Command::Archive(_) | Command::Compare(_) | Command::Detect(_) | Command::Redact(_) => {
            archive_args::hand_over()
        }
    }
}

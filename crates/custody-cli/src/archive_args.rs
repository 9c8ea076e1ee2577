//! The arguments of `custody archive` and `custody compare`. Parsed by the
//! `custody` binary (which hands these commands to `custody-archive`, so
//! that FFmpeg's libraries are loaded only by the commands that use them)
//! and by `custody-archive` itself.

// The `custody` binary parses these only to validate and document the
// command line; `custody-archive` reads them.
#![allow(dead_code)]

use custody::transcode::Profile;
use std::path::PathBuf;

/// The profiles, as `--profile` names them.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ProfileArg {
    RemuxMkv,
    RemuxMp4,
    Preservation,
    Access,
    Join,
    Clip,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::RemuxMkv => Profile::RemuxMkv,
            ProfileArg::RemuxMp4 => Profile::RemuxMp4,
            ProfileArg::Preservation => Profile::Preservation,
            ProfileArg::Access => Profile::Access,
            ProfileArg::Join => Profile::Join,
            ProfileArg::Clip => Profile::Clip,
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct ArchiveArgs {
    /// The recording(s): one file per output, or the consecutive segments of
    /// one recording for `--profile join`.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// What to make.
    #[arg(long, value_enum)]
    pub(crate) profile: ProfileArg,
    /// The output file; a folder when several files are archived one by one
    /// (each output is named FILE-STEM.PROFILE.EXT there). Never replaced if
    /// it exists.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub(crate) output: PathBuf,
    /// `clip`: start (seconds, or [HH:]MM:SS[.fff]) from the recording's start.
    #[arg(long, value_name = "T")]
    pub(crate) from: Option<String>,
    /// `clip`: end.
    #[arg(long, value_name = "T")]
    pub(crate) to: Option<String>,
    /// `access`: libx264 constant rate factor (0-51).
    #[arg(long, default_value_t = 23)]
    pub(crate) crf: u8,
    /// `access`: libx264 preset (ultrafast ... veryslow).
    #[arg(long, default_value = "medium")]
    pub(crate) preset: String,
    /// `preservation`: FFV1 slices per frame.
    #[arg(long, default_value_t = 16)]
    pub(crate) slices: u32,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// `preservation`: encode with FFmpeg's slice threads instead of whole
    /// frames in parallel (for comparison; the default is faster).
    #[arg(long)]
    pub(crate) slice_threads: bool,
    /// Skip the proof (benchmarks only: an unproven output is kept; not
    /// with --store).
    #[arg(long, conflicts_with = "store")]
    pub(crate) no_proof: bool,
    /// Register each output in this evidence store as a derivative of its
    /// source(s), which must be registered there: its own object, a signed
    /// manifest naming the sources, profile, parameters, FFmpeg versions and
    /// proof, and a custody-log entry.
    #[arg(long, value_name = "STORE")]
    pub(crate) store: Option<PathBuf>,
    /// With --store: the station key file (default: $CUSTODY_KEY, else
    /// ~/.config/custody/station.key).
    #[arg(long, requires = "store")]
    pub(crate) key: Option<PathBuf>,
    /// With --store: station identifier.
    #[arg(long, default_value = "station")]
    pub(crate) station: String,
    /// With --store: operator name.
    #[arg(long)]
    pub(crate) operator: Option<String>,
    /// `access`: burn the UTC time, device and officer into every picture
    /// (from the options below, else the source's signed manifest with
    /// --store, else its creation time and file name).
    #[arg(long)]
    pub(crate) overlay: bool,
    /// With --overlay: the recording's start, RFC 3339 UTC.
    #[arg(long, requires = "overlay", value_name = "YYYY-MM-DDThh:mm:ssZ")]
    pub(crate) overlay_start: Option<String>,
    /// With --overlay: the device shown.
    #[arg(long, requires = "overlay", value_name = "SERIAL")]
    pub(crate) overlay_device: Option<String>,
    /// With --overlay: the officer shown.
    #[arg(long, requires = "overlay", value_name = "BADGE")]
    pub(crate) overlay_officer: Option<String>,
    /// With --overlay: the font file (default: DejaVu Sans Mono).
    #[arg(long, requires = "overlay", value_name = "FILE")]
    pub(crate) font: Option<PathBuf>,
    /// Print JSON (one object per output; an array for several).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct CompareArgs {
    /// The first file (the original).
    pub(crate) a: PathBuf,
    /// The second file (the derivative).
    pub(crate) b: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs the same command line with `custody-archive`, the binary beside
/// this one that links FFmpeg (replacing this process on Unix, so signals
/// and the exit status are its own).
#[allow(dead_code)]
pub(crate) fn hand_over() -> std::process::ExitCode {
    let helper = std::env::current_exe()
        .map(|e| e.with_file_name(format!("custody-archive{}", std::env::consts::EXE_SUFFIX)));
    let helper = match helper {
        Ok(h) if h.is_file() => h,
        _ => {
            eprintln!(
                "custody: custody-archive, which runs archive, compare, detect and redact, is not installed beside custody"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let mut cmd = std::process::Command::new(&helper);
    cmd.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        eprintln!("custody: cannot run {}: {e}", helper.display());
        std::process::ExitCode::from(2)
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(s) => std::process::ExitCode::from(s.code().map_or(2, |c| c as u8)),
        Err(e) => {
            eprintln!("custody: cannot run {}: {e}", helper.display());
            std::process::ExitCode::from(2)
        }
    }
}

//! The arguments of `custody detect` and `custody redact`. Parsed by the
//! `custody` binary (which hands these commands to `custody-archive`, the
//! one binary that loads FFmpeg's libraries and the models) and by
//! `custody-archive` itself.

// The `custody` binary parses these only to validate and document the
// command line; `custody-archive` reads them.
#![allow(dead_code)]

use std::path::PathBuf;

/// How a mask hides, as `--mask` names it.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum MaskArg {
    /// A strong, irreversible blur.
    Blur,
    /// Coarse blocks.
    Pixelate,
    /// Solid black.
    Fill,
}

/// A mask's outline, as `--shape` names it.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ShapeArg {
    /// The whole box.
    Rectangle,
    /// The ellipse inscribed in the box.
    Ellipse,
}

/// The built-in detectors and how often they look.
#[derive(clap::Args)]
pub(crate) struct DetectorArgs {
    /// Find faces (CenterFace).
    #[arg(long)]
    pub(crate) faces: bool,
    /// Find licence plates.
    #[arg(long)]
    pub(crate) plates: bool,
    /// Run the detectors on every N-th picture (the tracker fills the
    /// pictures between).
    #[arg(long = "every", visible_alias = "detect-every", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) every: u64,
    /// Find faces on pictures scaled to this width (aspect kept, never
    /// upscaled): faster, and small faces are missed (default: full size).
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(32..))]
    pub(crate) detect_width: Option<u32>,
    /// The folder holding the models (default: $CUSTODY_MODELS, else
    /// ~/.local/share/custody/models, where the set-up installs them).
    #[arg(long, value_name = "DIR")]
    pub(crate) models: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct DetectArgs {
    /// Videos or pictures to look at.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) detectors: DetectorArgs,
    /// Print JSON: per file, every picture looked at with its detections
    /// (an array for several files).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(clap::Args)]
pub(crate) struct RedactArgs {
    /// The recording to redact (only read).
    pub(crate) input: PathBuf,
    /// The redacted copy (H.264 + AAC in MP4); never replaced if it exists.
    /// The log is written beside it as OUT.redaction.json and OUT.tracks.csv,
    /// each picture's BLAKE3 as OUT.frames.csv, a contact sheet as OUT.contact.png.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub(crate) output: PathBuf,
    #[command(flatten)]
    pub(crate) detectors: DetectorArgs,
    /// Manual regions with keyframes (JSON), for what detectors miss.
    #[arg(long, value_name = "R.json")]
    pub(crate) regions: Option<PathBuf>,
    /// How masks hide.
    #[arg(long, value_enum, default_value = "blur")]
    pub(crate) mask: MaskArg,
    /// The masks' outline.
    #[arg(long, value_enum, default_value = "rectangle")]
    pub(crate) shape: ShapeArg,
    /// Mute the sound from A to B (seconds, or [HH:]MM:SS[.fff], from the
    /// recording's start: `--mute 1:05-1:07.5`); repeatable. Every audio
    /// track is then re-encoded to AAC.
    #[arg(long, value_name = "A-B")]
    pub(crate) mute: Vec<String>,
    /// Replace the sound from A to B with a 1 kHz tone (a bleep, -12 dBFS);
    /// repeatable. Where it overlaps a muted range, the bleep is heard.
    #[arg(long, value_name = "A-B")]
    pub(crate) bleep: Vec<String>,
    /// libx264 constant rate factor (0-51).
    #[arg(long, default_value_t = 23)]
    pub(crate) crf: u8,
    /// libx264 preset (ultrafast ... veryslow).
    #[arg(long, default_value = "medium")]
    pub(crate) preset: String,
    /// Encoder worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// Keep subtitle, timed-metadata and telemetry tracks (dropped by
    /// default: they may carry positions).
    #[arg(long)]
    pub(crate) keep_other_tracks: bool,
    /// Register the copy in this evidence store as a derivative of the
    /// original, which must be registered there; the signed manifest names
    /// the detectors and their models, every parameter and the log's BLAKE3.
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
    /// Print the redaction log as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

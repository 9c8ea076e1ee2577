//! The burned-in overlay of an access copy: the UTC time of each picture
//! (the recording's start plus the picture's time), the device and the
//! officer, drawn by FFmpeg's `drawtext` filter (libavfilter, FreeType) in
//! a box at the top left of every picture.
//!
//! The text is fixed when the job starts; only the time advances, computed
//! by `drawtext` from each picture's timestamp. Caller-supplied strings are
//! escaped for both of `drawtext`'s parsers (its option string and its text
//! expansion) and reduced to printable characters, so no metadata can
//! inject a filter option or an expansion.

use crate::error::{Error, Result};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{Rational, frame};
use std::path::{Path, PathBuf};

/// The font used when none is given: DejaVu Sans Mono, from Debian's
/// `fonts-dejavu-core` (installed by scripts/setup.sh).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

/// What an access copy's overlay shows. Fields left `None` are shown as
/// unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    /// The recording's start (its first picture) in Unix seconds, UTC.
    pub start_utc: Option<i64>,
    /// Device (recorder serial number).
    pub device: Option<String>,
    /// Officer (badge number).
    pub officer: Option<String>,
    /// Font file (default [`DEFAULT_FONT`]).
    pub font: Option<PathBuf>,
}

/// Longest device or officer text shown, in characters.
const MAX_FIELD: usize = 64;

impl Overlay {
    /// The font file used.
    pub fn font_path(&self) -> PathBuf {
        self.font
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FONT))
    }

    /// The overlay as recorded among the job's parameters.
    pub fn describe(&self) -> String {
        format!(
            "drawtext: utc={}; device={}; officer={}; font={}",
            self.start_utc
                .map_or("unknown".into(), |s| format!("{s}+pts")),
            self.device.as_deref().map_or("unknown".into(), printable),
            self.officer.as_deref().map_or("unknown".into(), printable),
            self.font_path().display()
        )
    }

    /// `drawtext`'s `text`: the time expansion and the fixed lines.
    /// `first` is the first picture's time in seconds, which the start
    /// time belongs to.
    fn text(&self, first: f64) -> String {
        let time = match self.start_utc {
            // drawtext's `pts` expansion: gmtime of the picture's time plus
            // the offset, formatted by strftime (`\:` is a literal colon).
            Some(s) => format!(
                "%{{pts:gmtime:{}:%Y-%m-%d %H\\:%M\\:%SZ}}",
                offset(s as f64 - first)
            ),
            None => "UTC unknown, %{pts:hms}".into(),
        };
        let field = |v: &Option<String>| {
            v.as_deref()
                .map_or("unknown".into(), |s| expansion_literal(&printable(s)))
        };
        format!(
            "{time}\ndevice {}  officer {}",
            field(&self.device),
            field(&self.officer)
        )
    }
}

/// `seconds` as `av_parse_time` reads a duration: `[-]S[.ffffff]`.
fn offset(seconds: f64) -> String {
    let sign = if seconds < 0.0 { "-" } else { "" };
    format!("{sign}{:.6}", seconds.abs())
}

/// `s` with control and other unprintable characters replaced by `?`,
/// at most [`MAX_FIELD`] characters.
fn printable(s: &str) -> String {
    s.trim()
        .chars()
        .take(MAX_FIELD)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `s` as literal text in drawtext's text expansion (`\` and `%` escaped).
fn expansion_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` as one value in a filter's option string: every character that is
/// not an ASCII letter or digit is backslash-escaped (`av_get_token` takes
/// the character after a backslash literally).
fn option_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A filter graph `buffer (src) -> drawtext (in) -> format=yuv420p ->
/// buffersink (out)` for
/// one video stream.
pub(crate) struct Burner {
    graph: ffmpeg::filter::Graph,
    path: PathBuf,
}

/// The picture the burner is set up for.
pub(crate) struct Picture {
    /// Width and height.
    pub(crate) size: (u32, u32),
    /// The layout the decoded pictures are given in.
    pub(crate) format: Pixel,
    /// The stream's time base.
    pub(crate) time_base: Rational,
    /// Sample aspect ratio.
    pub(crate) sar: Rational,
    /// The first picture's time in seconds.
    pub(crate) first: f64,
}

impl Burner {
    /// Sets the graph up for pictures of `pic`, reading from `input`. A
    /// libavfilter without `drawtext` is [`Error::MissingFilter`]; a font
    /// that cannot be read is [`Error::Io`] on the font.
    pub(crate) fn new(input: &Path, overlay: &Overlay, pic: &Picture) -> Result<Burner> {
        let find = |name: &str| {
            ffmpeg::filter::find(name).ok_or_else(|| Error::MissingFilter(name.to_string()))
        };
        let (buffer, drawtext, sink) = (find("buffer")?, find("drawtext")?, find("buffersink")?);
        let font = overlay.font_path();
        custody_io::open_regular(&font).map_err(Error::io(&font))?;
        let err = |e| Error::ffmpeg(input, "setting up the overlay", e);
        let mut g = ffmpeg::filter::Graph::new();
        let sar = if pic.sar.numerator() > 0 && pic.sar.denominator() > 0 {
            pic.sar
        } else {
            Rational(1, 1)
        };
        let pix = pic
            .format
            .descriptor()
            .map(|d| d.name())
            .ok_or_else(|| Error::InvalidArgument("a picture without a pixel format".into()))?;
        let args = format!(
            "video_size={}x{}:pix_fmt={pix}:time_base={}/{}:pixel_aspect={}/{}",
            pic.size.0,
            pic.size.1,
            pic.time_base.numerator(),
            pic.time_base.denominator(),
            sar.numerator(),
            sar.denominator()
        );
        let mut src = g.add(&buffer, "src", &args).map_err(err)?;
        // Text about 1/24 of the picture's height, never below 12 pixels.
        let size = (pic.size.1 / 24).max(12);
        let text_args = format!(
            "fontfile={}:text={}:x=8:y=8:fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=4:line_spacing=2",
            option_value(&font.to_string_lossy()),
            option_value(&overlay.text(pic.first)),
        );
        let mut text = g
            .add(&drawtext, "in", &text_args)
            .map_err(|e| Error::ffmpeg(input, "setting up the overlay (drawtext)", e))?;
        g.add(&sink, "out", "").map_err(err)?;
        src.link(0, &mut text, 0);
        // `in` and `out` are the labels the parser links its chain to.
        g.output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse("format=pix_fmts=yuv420p"))
            .map_err(err)?;
        g.validate().map_err(err)?;
        Ok(Burner {
            graph: g,
            path: input.to_path_buf(),
        })
    }

    /// Draws the overlay on `f` (yuv420p out, the timestamp kept).
    pub(crate) fn burn(&mut self, f: &frame::Video) -> Result<frame::Video> {
        let err = |e| Error::ffmpeg(&self.path, "drawing the overlay", e);
        self.graph
            .get("src")
            .ok_or_else(|| Error::InvalidArgument("no overlay input".into()))?
            .source()
            .add(f)
            .map_err(err)?;
        let mut out = frame::Video::empty();
        self.graph
            .get("out")
            .ok_or_else(|| Error::InvalidArgument("no overlay output".into()))?
            .sink()
            .frame(&mut out)
            .map_err(err)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_text_cannot_reach_either_parser() {
        let o = Overlay {
            start_utc: Some(1_796_000_000),
            device: Some("SN:1\\%{e:1}\n'x'".into()),
            officer: Some("0123".into()),
            font: None,
        };
        let t = o.text(0.5);
        assert!(t.starts_with("%{pts:gmtime:1795999999.500000:%Y-%m-%d %H\\:%M\\:%SZ}\n"));
        // The device's `\`, `%` escaped for the expansion, its newline gone.
        assert!(
            t.contains("device SN:1\\\\\\%{e:1}?'x'  officer 0123"),
            "{t}"
        );
        // The option value holds no unescaped separator or quote.
        let v = option_value(&t);
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                chars.next();
            } else {
                assert!(c.is_ascii_alphanumeric(), "{c:?} in {v}");
            }
        }
        assert_eq!(offset(-2.25), "-2.250000");
        assert_eq!(printable(&"x".repeat(100)).len(), MAX_FIELD);
    }
}

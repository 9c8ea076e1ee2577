//! Typed names in probe output: the container and each track's codec,
//! written (as text and JSON) exactly as FFmpeg spells them.

use std::fmt;

/// A container, as [`crate::Probe::container`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Container {
    /// ISO-BMFF with an MP4 (or other non-QuickTime, non-3GPP) brand: `mp4`.
    Mp4,
    /// QuickTime (brand `qt  `, or no `ftyp`): `mov`.
    Mov,
    /// 3GPP (a `3g..` brand): `3gp`.
    ThreeGp,
    /// MPEG-TS of 188 or 204-byte packets: `mpegts`.
    MpegTs,
    /// MPEG-TS of 192-byte packets: `m2ts`.
    M2ts,
    /// MPEG program stream: `mpegps`.
    MpegPs,
    /// Matroska: `matroska`.
    Matroska,
    /// WebM: `webm`.
    WebM,
    /// AVI: `avi`.
    Avi,
    /// WAV: `wav`.
    Wav,
    /// RF64: `rf64`.
    Rf64,
    /// Flash video: `flv`.
    Flv,
    /// AMR storage format: `amr`.
    Amr,
    /// JPEG image: `jpeg`.
    Jpeg,
    /// PNG image: `png`.
    Png,
    /// AAC with ADTS headers: `adts`.
    Adts,
    /// MPEG audio: `mp3`.
    Mp3,
    /// Ogg: `ogg`.
    Ogg,
    /// Raw H.264/H.265 Annex B: `annexb`.
    AnnexB,
}

impl Container {
    /// The name as probe output writes it (`mp4`, `mpegts`, `m2ts`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Mov => "mov",
            Container::ThreeGp => "3gp",
            Container::MpegTs => "mpegts",
            Container::M2ts => "m2ts",
            Container::MpegPs => "mpegps",
            Container::Matroska => "matroska",
            Container::WebM => "webm",
            Container::Avi => "avi",
            Container::Wav => "wav",
            Container::Rf64 => "rf64",
            Container::Flv => "flv",
            Container::Amr => "amr",
            Container::Jpeg => "jpeg",
            Container::Png => "png",
            Container::Adts => "adts",
            Container::Mp3 => "mp3",
            Container::Ogg => "ogg",
            Container::AnnexB => "annexb",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Container {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// FFmpeg's name for a track's codec (`h264`, `hevc`, `aac`, `pcm_s16le`,
/// ...), as the parsers recognise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Codec(&'static str);

impl Codec {
    /// A codec named by a parser.
    pub(crate) fn new(name: &'static str) -> Codec {
        Codec(name)
    }

    /// FFmpeg's codec name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<str> for Codec {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Codec {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Format;

    #[test]
    fn names_serialise_as_their_text() {
        for (c, name) in [
            (Container::ThreeGp, "3gp"),
            (Container::M2ts, "m2ts"),
            (Container::AnnexB, "annexb"),
        ] {
            assert_eq!(c.to_string(), name);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{name}\""));
        }
        let codec = Codec::new("pcm_s16le");
        assert_eq!(serde_json::to_string(&codec).unwrap(), "\"pcm_s16le\"");
        assert_eq!(codec.to_string(), "pcm_s16le");
        assert!(codec == "pcm_s16le");
        // Probe output spells each detected format's container so.
        for (f, name) in [
            (Format::IsoBmff, "mp4"),
            (Format::MpegTs { packet_size: 188 }, "mpegts"),
            (Format::MpegTs { packet_size: 192 }, "m2ts"),
            (Format::MpegTs { packet_size: 204 }, "mpegts"),
            (Format::MpegPs, "mpegps"),
            (Format::Matroska, "matroska"),
            (Format::WebM, "webm"),
            (Format::Avi, "avi"),
            (Format::Wav, "wav"),
            (Format::Rf64, "rf64"),
            (Format::Flv, "flv"),
            (Format::Amr, "amr"),
            (Format::Jpeg, "jpeg"),
            (Format::Png, "png"),
            (Format::Adts, "adts"),
            (Format::Mp3, "mp3"),
            (Format::Ogg, "ogg"),
            (Format::AnnexB, "annexb"),
        ] {
            assert_eq!(f.container().to_string(), name);
            assert_eq!(f.name(), name);
        }
    }
}

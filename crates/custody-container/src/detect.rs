//! Recognition of container formats from their first bytes.

use crate::names::Container;

use crate::bytes::be32;

/// A container format Custody recognises.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ISO base media file format (MP4, MOV, 3GP, M4A, fragmented MP4, segments).
    IsoBmff,
    /// MPEG transport stream with packets of the given size (188, 192 or 204).
    MpegTs {
        /// Packet size in bytes.
        packet_size: u16,
    },
    /// MPEG program stream.
    MpegPs,
    /// Matroska.
    Matroska,
    /// WebM (Matroska with the `webm` doctype).
    WebM,
    /// AVI (RIFF).
    Avi,
    /// WAV (RIFF).
    Wav,
    /// RF64 or BW64 (64-bit WAV).
    Rf64,
    /// FLV.
    Flv,
    /// AMR narrowband or wideband storage format.
    Amr,
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// AAC with ADTS headers.
    Adts,
    /// MPEG audio (MP3) with or without an ID3v2 tag.
    Mp3,
    /// Ogg.
    Ogg,
    /// Raw H.264/H.265 Annex B elementary stream.
    AnnexB,
}

impl Format {
    /// The short container name used in probe output (`mp4`, `mpegts`, `m2ts`, ...).
    pub fn name(self) -> &'static str {
        self.container().as_str()
    }

    /// The container probe output names (ISO-BMFF: `mp4`; the brand may
    /// make a parsed file `mov` or `3gp`).
    pub fn container(self) -> Container {
        match self {
            Format::IsoBmff => Container::Mp4,
            Format::MpegTs { packet_size: 192 } => Container::M2ts,
            Format::MpegTs { .. } => Container::MpegTs,
            Format::MpegPs => Container::MpegPs,
            Format::Matroska => Container::Matroska,
            Format::WebM => Container::WebM,
            Format::Avi => Container::Avi,
            Format::Wav => Container::Wav,
            Format::Rf64 => Container::Rf64,
            Format::Flv => Container::Flv,
            Format::Amr => Container::Amr,
            Format::Jpeg => Container::Jpeg,
            Format::Png => Container::Png,
            Format::Adts => Container::Adts,
            Format::Mp3 => Container::Mp3,
            Format::Ogg => Container::Ogg,
            Format::AnnexB => Container::AnnexB,
        }
    }
}

const BMFF_TYPES: [&[u8; 4]; 14] = [
    b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"moof", b"sidx", b"pnot",
    b"uuid", b"prfl", b"emsg", b"junk",
];

/// Finds the first offset (within the first 64 KiB) where TS sync bytes repeat
/// at `size` for several packets; returns the offset of the first sync byte.
pub fn find_ts_sync(data: &[u8], size: usize) -> Option<usize> {
    let lead = if size == 192 { 4 } else { 0 };
    let need = 5.min(data.len() / size).max(1);
    let limit = data.len().min(65_536);
    (0..limit).find(|&start| {
        // At least one whole packet, and the sync byte repeating where there are more.
        data.len() - start >= size
            && (0..need).all(|k| data.get(start + lead + k * size) == Some(&0x47))
    })
}

/// Identifies the container of `data` from its first bytes.
pub fn detect(data: &[u8]) -> Option<Format> {
    let head = |n: usize| data.get(..n);
    if let Some(t) = data.get(4..8)
        && BMFF_TYPES.iter().any(|b| b.as_slice() == t)
        && let Some(size) = be32(data, 0)
        && (size == 0 || size == 1 || size >= 8)
    {
        return Some(Format::IsoBmff);
    }
    if head(4) == Some(&[0x1a, 0x45, 0xdf, 0xa3]) {
        let webm = data
            .get(..64.min(data.len()))
            .is_some_and(|h| h.windows(4).any(|w| w == b"webm"));
        return Some(if webm { Format::WebM } else { Format::Matroska });
    }
    if let (Some(riff), Some(form)) = (head(4), data.get(8..12)) {
        match (riff, form) {
            (b"RIFF", b"AVI ") | (b"RIFF", b"AVIX") => return Some(Format::Avi),
            (b"RIFF", b"WAVE") => return Some(Format::Wav),
            (b"RF64", b"WAVE") | (b"BW64", b"WAVE") => return Some(Format::Rf64),
            _ => {}
        }
    }
    if head(4) == Some(b"FLV\x01") {
        return Some(Format::Flv);
    }
    if head(6) == Some(b"#!AMR\n") || head(9) == Some(b"#!AMR-WB\n") {
        return Some(Format::Amr);
    }
    if head(3) == Some(&[0xff, 0xd8, 0xff]) {
        return Some(Format::Jpeg);
    }
    if head(8) == Some(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if head(4) == Some(b"OggS") {
        return Some(Format::Ogg);
    }
    if head(4) == Some(&[0, 0, 1, 0xba]) {
        return Some(Format::MpegPs);
    }
    for size in [188usize, 192, 204] {
        if data.len() >= size * 2 && find_ts_sync(data, size).is_some_and(|s| s < size * 2) {
            return Some(Format::MpegTs {
                packet_size: size as u16,
            });
        }
    }
    if data.len() >= 188 && data.len() < 376 && data[0] == 0x47 {
        return Some(Format::MpegTs { packet_size: 188 });
    }
    if head(3) == Some(b"ID3") {
        return Some(Format::Mp3);
    }
    if let Some(h) = head(4) {
        if h[0] == 0xff && h[1] & 0xf6 == 0xf0 {
            return Some(Format::Adts);
        }
        if h[0] == 0xff && h[1] & 0xe0 == 0xe0 && h[1] & 0x06 != 0 {
            return Some(Format::Mp3);
        }
        if h[..3] == [0, 0, 1] || h == [0, 0, 0, 1] {
            return Some(Format::AnnexB);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(
            detect(b"\0\0\0\x14ftypisom\0\0\0\0isom"),
            Some(Format::IsoBmff)
        );
        assert_eq!(detect(b"RIFF\0\0\0\0WAVEfmt "), Some(Format::Wav));
        assert_eq!(detect(b"RIFF\0\0\0\0AVI LIST"), Some(Format::Avi));
        assert_eq!(detect(b"#!AMR\n\x3c"), Some(Format::Amr));
        assert_eq!(detect(&[0xff, 0xd8, 0xff, 0xe0]), Some(Format::Jpeg));
        assert_eq!(detect(&[0, 0, 1, 0xba, 0x44]), Some(Format::MpegPs));
        assert_eq!(detect(b"hello world"), None);
        let mut ts = vec![0u8; 188 * 3];
        for k in 0..3 {
            ts[k * 188] = 0x47;
        }
        assert_eq!(detect(&ts), Some(Format::MpegTs { packet_size: 188 }));
        let mut m2ts = vec![0u8; 192 * 3];
        for k in 0..3 {
            m2ts[k * 192 + 4] = 0x47;
        }
        assert_eq!(detect(&m2ts), Some(Format::MpegTs { packet_size: 192 }));
    }
}

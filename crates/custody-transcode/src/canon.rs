//! The container-independent form of one packet, as Custody's content
//! hashes define it (`custody_hash::content::PacketForm`, form version 1:
//! one definition, used here for each packet so that a stream copy can be
//! proven packet by packet), chosen from FFmpeg's codec ids:
//!
//! - H.264 / H.265: the VCL NAL units, each as a 4-byte big-endian length
//!   and its bytes (trailing zero bytes dropped); length prefixes, Annex B
//!   start codes, delimiters, SEI and parameter sets are not part of it, so
//!   MPEG-TS (Annex B) and MP4/Matroska (length-prefixed) carry the same form.
//! - AAC: the raw frame, ADTS header removed.
//! - Everything else: the packet's bytes as stored.
//!
//! PCM is not proven per packet (demuxers regroup raw samples freely) but
//! as one byte stream; see the proof module.

use ffmpeg_next::codec::Id;

/// How a stream's packets are put in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// H.264 (`hevc: false`) or H.265 NAL units; `length_size` is the size
    /// of the length prefix, `None` for Annex B.
    Nal { hevc: bool, length_size: Option<u8> },
    /// AAC, ADTS header (if any) removed.
    Aac,
    /// Raw PCM: proven as a byte stream.
    Pcm,
    /// Bytes as stored.
    Bytes,
}

impl Form {
    /// The form for a stream of codec `id` with decoder configuration `extradata`.
    pub(crate) fn of(id: Id, extradata: &[u8]) -> Form {
        match id {
            Id::H264 => Form::Nal {
                hevc: false,
                // avcC: version 1, then the length size in the low 2 bits of byte 4.
                length_size: (extradata.first() == Some(&1) && extradata.len() > 4)
                    .then(|| (extradata[4] & 3) + 1),
            },
            Id::HEVC => Form::Nal {
                hevc: true,
                // hvcC: version 1, length size in the low 2 bits of byte 21.
                length_size: (extradata.first() == Some(&1) && extradata.len() > 22)
                    .then(|| (extradata[21] & 3) + 1),
            },
            Id::AAC => Form::Aac,
            id if is_pcm(id) => Form::Pcm,
            _ => Form::Bytes,
        }
    }

    /// BLAKE3 of the canonical form of one packet's bytes.
    pub(crate) fn hash(self, data: &[u8]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        self.feed(data, &mut h);
        *h.finalize().as_bytes()
    }

    /// Feeds the canonical form of `data` to `h`: the per-packet form of
    /// `custody_hash::content` (one definition for both), PCM as stored.
    pub(crate) fn feed(self, data: &[u8], h: &mut blake3::Hasher) {
        use custody_hash::content::PacketForm;
        let form = match self {
            Form::Nal { hevc, length_size } => PacketForm::Nal { hevc, length_size },
            Form::Aac => PacketForm::Aac,
            Form::Pcm | Form::Bytes => PacketForm::Bytes,
        };
        form.feed(data, h);
    }
}

/// True for the raw PCM codecs.
pub(crate) fn is_pcm(id: Id) -> bool {
    let name = id.name();
    name.starts_with("pcm_")
        && !matches!(
            name,
            "pcm_alaw" | "pcm_mulaw" | "pcm_dvd" | "pcm_bluray" | "pcm_lxf" | "pcm_vidc"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_and_length_prefixed_h264_have_one_form() {
        // An access unit delimiter, an SPS, and an IDR slice.
        let aud = [0x09u8, 0xf0];
        let sps = [0x67u8, 0x42, 0x00, 0x1e];
        let idr = [0x65u8, 0x88, 0x84, 0x00, 0x21];
        let mut annexb = Vec::new();
        for u in [&aud[..], &sps, &idr] {
            annexb.extend_from_slice(&[0, 0, 0, 1]);
            annexb.extend_from_slice(u);
        }
        annexb.push(0); // trailing zero byte of the byte stream
        let mut avcc = Vec::new();
        avcc.extend_from_slice(&(idr.len() as u32).to_be_bytes());
        avcc.extend_from_slice(&idr);
        let a = Form::of(Id::H264, &[]).hash(&annexb);
        let b = Form::of(Id::H264, &[1, 0x42, 0, 0x1e, 0xff]).hash(&avcc);
        assert_eq!(a, b);
        let mut other = avcc.clone();
        *other.last_mut().unwrap() ^= 1;
        assert_ne!(
            b,
            Form::of(Id::H264, &[1, 0x42, 0, 0x1e, 0xff]).hash(&other)
        );
    }

    #[test]
    fn adts_header_is_not_content() {
        let raw = [0x21u8, 0x10, 0x05];
        let mut adts = vec![0xff, 0xf1, 0x50, 0x80, 0x01, 0x7f, 0xfc];
        adts.extend_from_slice(&raw);
        assert_eq!(Form::Aac.hash(&adts), Form::Aac.hash(&raw));
    }
}

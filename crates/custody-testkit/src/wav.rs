//! A WAV / RF64 writer: PCM with optional Broadcast Wave `bext` chunk.

/// What to write.
#[derive(Debug, Clone)]
pub struct WavSpec<'a> {
    /// Channels.
    pub channels: u16,
    /// Sample frames per second.
    pub sample_rate: u32,
    /// Bits per sample (8, 16, 24 or 32; integer PCM).
    pub bits: u16,
    /// Sample frames of audio (a ramp, so every byte position differs).
    pub frames: u32,
    /// `bext` origination date, time and time reference.
    pub bext: Option<(&'a str, &'a str, u64)>,
    /// RF64 with a `ds64` chunk and 0xFFFFFFFF sizes instead of RIFF.
    pub rf64: bool,
}

fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// Writes the file `spec` describes.
///
/// ```
/// use custody_testkit::wav::{WavSpec, write};
/// let f = write(&WavSpec { channels: 1, sample_rate: 8000, bits: 16, frames: 80, bext: None, rf64: false });
/// assert_eq!(&f[..4], b"RIFF");
/// assert_eq!(f.len(), 12 + 24 + 8 + 160);
/// ```
pub fn write(spec: &WavSpec<'_>) -> Vec<u8> {
    let block = spec.channels * spec.bits.div_ceil(8);
    let mut out = if spec.rf64 {
        b"RF64\xff\xff\xff\xffWAVE".to_vec()
    } else {
        b"RIFF\0\0\0\0WAVE".to_vec()
    };
    let data_len = spec.frames as u64 * block as u64;
    if spec.rf64 {
        let mut ds64 = Vec::new();
        ds64.extend_from_slice(&0u64.to_le_bytes()); // riff size, patched below
        ds64.extend_from_slice(&data_len.to_le_bytes());
        ds64.extend_from_slice(&(spec.frames as u64).to_le_bytes());
        ds64.extend_from_slice(&0u32.to_le_bytes());
        chunk(&mut out, b"ds64", &ds64);
    }
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&spec.channels.to_le_bytes());
    fmt.extend_from_slice(&spec.sample_rate.to_le_bytes());
    fmt.extend_from_slice(&(spec.sample_rate * block as u32).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&spec.bits.to_le_bytes());
    chunk(&mut out, b"fmt ", &fmt);
    if let Some((date, time, reference)) = spec.bext {
        let mut b = vec![0u8; 602];
        b[..11].copy_from_slice(b"test record");
        b[256..263].copy_from_slice(b"testkit");
        b[320..320 + date.len().min(10)].copy_from_slice(&date.as_bytes()[..date.len().min(10)]);
        b[330..330 + time.len().min(8)].copy_from_slice(&time.as_bytes()[..time.len().min(8)]);
        b[338..346].copy_from_slice(&reference.to_le_bytes());
        b[346] = 1;
        chunk(&mut out, b"bext", &b);
    }
    let audio: Vec<u8> = (0..data_len).map(|i| (i * 7 % 251) as u8).collect();
    if spec.rf64 {
        out.extend_from_slice(b"data\xff\xff\xff\xff");
        out.extend_from_slice(&audio);
        if audio.len() % 2 == 1 {
            out.push(0);
        }
        let riff = (out.len() - 8) as u64;
        let at = out.windows(4).position(|w| w == b"ds64").expect("ds64") + 8;
        out[at..at + 8].copy_from_slice(&riff.to_le_bytes());
    } else {
        chunk(&mut out, b"data", &audio);
        let riff = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
    }
    out
}

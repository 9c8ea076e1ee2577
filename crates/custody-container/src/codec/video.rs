//! H.264 and HEVC sequence parameter sets: the picture size they declare
//! (cropping applied), read from the NAL unit as any container carries it.
//!
//! ```
//! use custody_container::codec::video::h264_sps_size;
//! // Not an SPS that parses: no size rather than a wrong one.
//! assert_eq!(h264_sps_size(&[0x67]), None);
//! ```

/// Bit reader over an RBSP (emulation-prevention bytes already removed).
pub(crate) struct Bits<'a> {
    pub(crate) d: &'a [u8],
    pub(crate) bit: usize,
}

impl Bits<'_> {
    pub(crate) fn u(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.d.get(self.bit / 8)?;
            v = (v << 1) | ((byte >> (7 - self.bit % 8)) & 1) as u32;
            self.bit += 1;
        }
        Some(v)
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.u(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.u(zeros)? as u64).min(u32::MAX as u64) as u32)
    }
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

/// Removes emulation-prevention bytes (00 00 03 -> 00 00).
fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads the cropped picture size from an H.264 SPS NAL unit (header byte included).
pub fn h264_sps_size(nal: &[u8]) -> Option<(u32, u32)> {
    let r = rbsp(nal.get(1..)?);
    let mut b = Bits { d: &r, bit: 0 };
    let profile = b.u(8)?;
    b.u(16)?;
    b.ue()?;
    let mut chroma = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma = b.ue()?;
        if chroma == 3 {
            b.u(1)?;
        }
        b.ue()?;
        b.ue()?;
        b.u(1)?;
        if b.u(1)? == 1 {
            for i in 0..if chroma == 3 { 12 } else { 8 } {
                if b.u(1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            // delta_scale should lie in -128..=127; a file may hold any i32.
                            next = ((last as i64 + b.se()? as i64 + 256) % 256) as i32;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    b.ue()?;
    match b.ue()? {
        0 => {
            b.ue()?;
        }
        1 => {
            b.u(1)?;
            b.se()?;
            b.se()?;
            for _ in 0..b.ue()?.min(256) {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?;
    b.u(1)?;
    let w = b.ue()?.checked_add(1)?.checked_mul(16)?;
    let hm = b.ue()?.checked_add(1)?;
    let frame_mbs_only = b.u(1)?;
    if frame_mbs_only == 0 {
        b.u(1)?;
    }
    b.u(1)?;
    let h = (2 - frame_mbs_only).checked_mul(hm)?.checked_mul(16)?;
    let (mut cw, mut ch) = (w, h);
    if b.u(1)? == 1 {
        let (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        let (ux, uy) = match chroma {
            0 => (1, 2 - frame_mbs_only),
            1 => (2, 2 * (2 - frame_mbs_only)),
            2 => (2, 2 - frame_mbs_only),
            _ => (1, 2 - frame_mbs_only),
        };
        cw = w.checked_sub(l.checked_add(r)?.checked_mul(ux)?)?;
        ch = h.checked_sub(t.checked_add(bo)?.checked_mul(uy)?)?;
    }
    Some((cw, ch))
}

/// Reads the cropped picture size from an H.265 SPS NAL unit (2-byte header included).
pub fn hevc_sps_size(nal: &[u8]) -> Option<(u32, u32)> {
    let r = rbsp(nal.get(2..)?);
    let mut b = Bits { d: &r, bit: 0 };
    b.u(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = b.u(3)?;
    b.u(1)?;
    // profile_tier_level(1, max_sub_layers_minus1)
    b.u(2 + 1 + 5)?;
    b.u(32)?;
    b.u(4)?;
    b.u(32)?;
    b.u(11)?; // 43 reserved bits and one more flag: 32 + 11 + 1 = 44 with the next
    b.u(1)?;
    b.u(8)?; // general_level_idc
    let mut present = Vec::new();
    for _ in 0..max_sub_layers_minus1 {
        present.push((b.u(1)?, b.u(1)?));
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            b.u(2)?;
        }
    }
    for (profile, level) in present {
        if profile == 1 {
            b.u(32)?;
            b.u(32)?;
            b.u(24)?;
        }
        if level == 1 {
            b.u(8)?;
        }
    }
    b.ue()?; // sps_seq_parameter_set_id
    let chroma = b.ue()?;
    if chroma == 3 {
        b.u(1)?;
    }
    let w = b.ue()?;
    let h = b.ue()?;
    if b.u(1)? == 1 {
        let (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        let (sx, sy) = match chroma {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        return Some((
            w.checked_sub(l.checked_add(r)?.checked_mul(sx)?)?,
            h.checked_sub(t.checked_add(bo)?.checked_mul(sy)?)?,
        ));
    }
    Some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bits most significant first; `ue`/`se` as Exp-Golomb codes.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        n: usize,
    }

    impl BitWriter {
        fn u(&mut self, bits: u32, v: u64) -> &mut Self {
            for i in (0..bits).rev() {
                if self.n.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                if (v >> i) & 1 == 1 {
                    *self.bytes.last_mut().unwrap() |= 0x80 >> (self.n % 8);
                }
                self.n += 1;
            }
            self
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let len = 64 - (v + 1).leading_zeros();
            self.u(len - 1, 0).u(len, v + 1)
        }
        fn se(&mut self, v: i64) -> &mut Self {
            self.ue(if v > 0 {
                2 * v as u64 - 1
            } else {
                v.unsigned_abs() * 2
            })
        }
        /// The NAL unit: `header`, then the RBSP with its stop bit and emulation prevention.
        fn nal(&mut self, header: &[u8]) -> Vec<u8> {
            self.u(1, 1);
            let mut out = header.to_vec();
            let mut zeros = 0;
            for &b in &self.bytes {
                if zeros >= 2 && b <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                out.push(b);
            }
            out
        }
    }

    #[test]
    fn h264_scaling_delta_outside_its_range_does_not_overflow() {
        // High profile SPS with a scaling list whose first delta_scale is i32::MAX
        // (the syntax allows -128..=127): nextScale = (8 + delta + 256) % 256 = 7,
        // then -7 brings it to 0 and ends the list.
        let mut w = BitWriter::default();
        w.u(8, 100).u(16, 0x001f).ue(0); // profile_idc, constraints + level, sps id
        w.ue(1).ue(0).ue(0).u(1, 0); // 4:2:0, bit depths, qpprime_y_zero_transform_bypass
        w.u(1, 1).u(1, 1); // seq_scaling_matrix_present, list 0 present
        w.se(i32::MAX as i64).se(-7);
        w.u(7, 0); // lists 1-7 absent
        w.ue(0).ue(0).ue(0).ue(1).u(1, 0); // frame_num, poc type 0, poc lsb, refs, gaps
        w.ue(19).ue(14).u(1, 1).u(1, 0).u(1, 0); // 20x15 MBs, frames only, no cropping
        assert_eq!(h264_sps_size(&w.nal(&[0x67])), Some((320, 240)));
    }

    #[test]
    fn h264_cropping_beyond_u32_gives_no_size() {
        let sps = |crop_top: u64| {
            let mut w = BitWriter::default();
            w.u(8, 66).u(16, 0x001e).ue(0); // Baseline: 4:2:0, no chroma fields
            w.ue(0).ue(0).ue(0).ue(1).u(1, 0);
            w.ue(119).ue(67).u(1, 1).u(1, 0); // 120x68 MBs = 1920x1088, frames only
            w.u(1, 1).ue(0).ue(0).ue(crop_top).ue(4); // crop: 2-line units
            w.nal(&[0x67])
        };
        assert_eq!(h264_sps_size(&sps(0)), Some((1920, 1080)));
        // 2 * 2^31 overflows u32: the crop is larger than any picture.
        assert_eq!(h264_sps_size(&sps(1 << 31)), None);
    }

    #[test]
    fn hevc_cropping_beyond_u32_gives_no_size() {
        let sps = |left: u64| {
            let mut w = BitWriter::default();
            w.u(4, 0).u(3, 0).u(1, 1); // vps id, max_sub_layers_minus1, temporal id nesting
            w.u(8, 1).u(32, 0x6000_0000).u(48, 0).u(8, 120); // profile_tier_level: Main
            w.ue(0).ue(1).ue(1920).ue(1088); // sps id, 4:2:0, luma size
            w.u(1, 1).ue(left).ue(0).ue(0).ue(4); // conformance window (chroma units)
            w.nal(&[0x42, 0x01])
        };
        assert_eq!(hevc_sps_size(&sps(0)), Some((1920, 1080)));
        // 2 * 2^31 overflows u32.
        assert_eq!(hevc_sps_size(&sps(1 << 31)), None);
    }
}

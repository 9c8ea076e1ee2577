//! Movie fragments: `moof`/`traf`/`tfhd`/`tfdt`/`trun` resolved into runs.

use super::Mp4;
use super::boxes::BoxRef;
use super::sample::Run;
use super::track::{check_fits, checked_entries};
use crate::bytes::{be32, be64};
use crate::error::{Diag, Result};

/// Resolves every `moof` in `moofs` (boxes of `src`) into sample runs on
/// their tracks. The samples of the runs that lie in `src` may claim no
/// more than `unclaimed` of its bytes together (what the `moov` tables left).
pub(crate) fn apply<'a>(
    mp4: &mut Mp4<'a>,
    src: &'a [u8],
    moofs: &[BoxRef<'a>],
    mut unclaimed: u64,
    diag: &mut Diag,
) -> Result<()> {
    if moofs.is_empty() {
        return Ok(());
    }
    // Decode time where each track's next fragment starts without a tfdt.
    let mut next_dts: Vec<i64> = mp4
        .tracks
        .iter()
        .map(|t| {
            let mut end = 0i64;
            for s in t.samples() {
                end = s.dts.saturating_add(s.duration as i64);
            }
            end
        })
        .collect();
    // A run's data offset can point anywhere, so many runs could claim the
    // same bytes again and again (work and memory growing with the square of
    // the file, and content hashes hashing the file again and again): the
    // samples of all runs that lie in the file claim its bytes, and together
    // may claim no more bytes than the file holds.
    let len = src.len() as u64;
    for (mi, moof) in moofs.iter().enumerate() {
        let mut prev_traf_end: Option<u64> = None;
        let mut ti = 0;
        for traf in moof.children(0).flatten() {
            check_fits(moof, &traf, || format!("moof[{mi}]/{}", traf.kind), diag)?;
            if &traf.kind.0 != b"traf" {
                continue;
            }
            let path = format!("moof[{mi}]/traf[{ti}]");
            ti += 1;
            let mut tfhd = None;
            let mut tfdt = None;
            for b in traf.children(0).flatten() {
                check_fits(&traf, &b, || format!("{path}/{}", b.kind), diag)?;
                match &b.kind.0 {
                    b"tfhd" => tfhd = Some(b),
                    b"tfdt" => {
                        if let Some((v, _, p)) = b.full() {
                            tfdt = if v == 1 {
                                be64(p, 0)
                            } else {
                                be32(p, 0).map(u64::from)
                            };
                        }
                    }
                    _ => {}
                }
            }
            let Some(tfhd) = tfhd else {
                diag.note(traf.offset, &path, "traf without tfhd is skipped")?;
                continue;
            };
            let Some((_, flags, p)) = tfhd.full() else {
                continue;
            };
            let Some(track_id) = be32(p, 0) else { continue };
            let Some(ti) = mp4.tracks.iter().position(|t| t.id == track_id) else {
                diag.note(
                    tfhd.offset,
                    &path,
                    format!("fragment for unknown track {track_id}"),
                )?;
                continue;
            };
            let trex = mp4.tracks[ti].trex.unwrap_or_default();
            let mut at = 4;
            let mut opt = |bit: u32, width: usize| -> Option<u64> {
                if flags & bit == 0 {
                    return None;
                }
                let v = if width == 8 {
                    be64(p, at)
                } else {
                    be32(p, at).map(u64::from)
                };
                at += width;
                v
            };
            let base_offset = opt(0x01, 8);
            let entry = opt(0x02, 4).map(|e| e as u32).unwrap_or(trex.entry);
            let default_duration = opt(0x08, 4).map(|e| e as u32).unwrap_or(trex.duration);
            let default_size = opt(0x10, 4).map(|e| e as u32).unwrap_or(trex.size);
            let default_flags = opt(0x20, 4).map(|e| e as u32).unwrap_or(trex.flags);
            let base = match base_offset {
                Some(b) => b,
                None if flags & 0x20000 != 0 => moof.offset,
                None => prev_traf_end.unwrap_or(moof.offset),
            };
            let mut dts = match tfdt {
                Some(t) => t as i64,
                None => next_dts[ti],
            };
            let mut pos = base;
            for (ri, trun) in traf
                .children(0)
                .flatten()
                .filter(|b| &b.kind.0 == b"trun")
                .enumerate()
            {
                let rpath = format!("{path}/trun[{ri}]");
                let Some((_, rflags, rp)) = trun.full() else {
                    continue;
                };
                let Some(count) = be32(rp, 0) else { continue };
                let mut at = 4;
                if rflags & 0x01 != 0 {
                    let off = be32(rp, at).unwrap_or(0) as i32 as i64;
                    pos = base.saturating_add_signed(off);
                    at += 4;
                }
                let first_flags = if rflags & 0x04 != 0 {
                    let f = be32(rp, at);
                    at += 4;
                    f
                } else {
                    None
                };
                let stride = Run::stride(rflags);
                let body = rp.get(at..).unwrap_or(&[]);
                let n = if stride > 0 {
                    checked_entries(count as usize, stride, body.len(), &trun, &rpath, diag)? as u32
                } else {
                    count
                };
                let n = if rflags & 0x200 == 0 {
                    // One size for every sample: those that lie in the file
                    // are a prefix of the run.
                    let size = default_size as u64;
                    let present = if size == 0 {
                        n as u64
                    } else {
                        len.saturating_sub(pos)
                            .checked_div(size)
                            .unwrap_or(0)
                            .min(n as u64)
                    };
                    let fit = unclaimed.checked_div(size).unwrap_or(0);
                    if present > fit || (size == 0 && n > 0) {
                        diag.note(
                            trun.offset,
                            &rpath,
                            format!(
                                "{count} samples of {default_size} bytes do not fit in the {unclaimed} bytes \
                                 the file has left for its samples; {fit} kept"
                            ),
                        )?;
                        unclaimed -= fit * size;
                        fit as u32
                    } else {
                        unclaimed -= present * size;
                        n
                    }
                } else {
                    // Sizes per sample: each sample that lies in the file claims its bytes.
                    let size_at = if rflags & 0x100 != 0 { 4 } else { 0 };
                    let mut off = pos;
                    let mut used = 0u64;
                    let mut cap = None;
                    for (k, e) in body.chunks_exact(stride).take(n as usize).enumerate() {
                        let size = be32(e, size_at).unwrap_or(0) as u64;
                        if off.saturating_add(size) <= len {
                            if size > unclaimed - used {
                                cap = Some(k as u32);
                                break;
                            }
                            used += size;
                        }
                        off = off.saturating_add(size);
                    }
                    unclaimed -= used;
                    if let Some(k) = cap {
                        diag.note(
                            trun.offset,
                            &rpath,
                            format!(
                                "samples from {} on do not fit in the {} bytes the file has left \
                                 for its samples; {k} of {n} kept",
                                k + 1,
                                unclaimed + used
                            ),
                        )?;
                        k
                    } else {
                        n
                    }
                };
                let run = Run {
                    entries: &body[..(n as usize * stride).min(body.len())],
                    count: n,
                    flags: rflags,
                    first_flags,
                    default_duration,
                    default_size,
                    default_flags,
                    data_offset: pos,
                    base_dts: dts,
                    entry: entry.saturating_sub(1),
                };
                let (bytes, ticks) = run_totals(&run);
                pos = pos.saturating_add(bytes);
                dts = dts.saturating_add(ticks);
                mp4.tracks[ti].runs.push(run);
            }
            prev_traf_end = Some(pos);
            next_dts[ti] = dts;
        }
    }
    Ok(())
}

/// Total bytes and duration of a run.
fn run_totals(r: &Run<'_>) -> (u64, i64) {
    let stride = Run::stride(r.flags);
    let has_dur = r.flags & 0x100 != 0;
    let has_size = r.flags & 0x200 != 0;
    let mut bytes = if has_size {
        0
    } else {
        r.default_size as u64 * r.count as u64
    };
    let mut ticks = if has_dur {
        0
    } else {
        (r.default_duration as i64).saturating_mul(r.count as i64)
    };
    if has_dur || has_size {
        for e in r.entries.chunks_exact(stride) {
            let mut at = 0;
            if has_dur {
                ticks = ticks.saturating_add(be32(e, 0).unwrap_or(0) as i64);
                at = 4;
            }
            if has_size {
                bytes += be32(e, at).unwrap_or(0) as u64;
            }
        }
    }
    (bytes, ticks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use crate::bmff::write_box;
    use crate::fourcc::FourCC;
    use custody_testkit::mp4::{TrackSpec, avc1_entry, write_mp4};

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_box(&mut v, FourCC(*kind), payload, false);
        v
    }

    /// A `moof` for track 1 (`count` samples of 10 ticks and 1 byte, decode time
    /// `tfdt`, composition offset `cts` when given) and its `mdat`.
    fn fragment(tfdt: u64, count: u32, cts: Option<i32>) -> Vec<u8> {
        let moof = |data_offset: u32| {
            let mut tfhd = 0x0002_0018u32.to_be_bytes().to_vec();
            [1u32, 10, 1]
                .iter()
                .for_each(|v| tfhd.extend(v.to_be_bytes()));
            let mut tfdt_p = 0x0100_0000u32.to_be_bytes().to_vec();
            tfdt_p.extend(tfdt.to_be_bytes());
            let flags = if cts.is_some() { 0x801u32 } else { 0x001 };
            let mut trun = flags.to_be_bytes().to_vec();
            trun.extend(count.to_be_bytes());
            trun.extend(data_offset.to_be_bytes());
            for _ in 0..count {
                if let Some(c) = cts {
                    trun.extend(c.to_be_bytes());
                }
            }
            let traf = [
                boxed(b"tfhd", &tfhd),
                boxed(b"tfdt", &tfdt_p),
                boxed(b"trun", &trun),
            ]
            .concat();
            boxed(b"moof", &boxed(b"traf", &traf))
        };
        let len = moof(0).len() as u32;
        [moof(len + 8), boxed(b"mdat", &vec![7; count as usize])].concat()
    }

    /// A fragment with `runs` runs that each reset their data offset to the
    /// start of the mdat and claim u32::MAX one-byte samples, and `data` bytes
    /// of media.
    fn overlapping_runs(runs: usize, data: usize) -> Vec<u8> {
        let moof = |data_offset: u32| {
            let mut tfhd = 0x0002_0018u32.to_be_bytes().to_vec();
            [1u32, 10, 1]
                .iter()
                .for_each(|v| tfhd.extend(v.to_be_bytes()));
            let mut trun = 0x001u32.to_be_bytes().to_vec();
            trun.extend(u32::MAX.to_be_bytes());
            trun.extend(data_offset.to_be_bytes());
            let mut traf = boxed(b"tfhd", &tfhd);
            for _ in 0..runs {
                traf.extend(boxed(b"trun", &trun));
            }
            boxed(b"moof", &boxed(b"traf", &traf))
        };
        let len = moof(0).len() as u32;
        [moof(len + 8), boxed(b"mdat", &vec![7; data])].concat()
    }

    /// Cost is counted, not timed: however many runs claim the same bytes,
    /// the samples they yield together never exceed the bytes of the file,
    /// so work and memory grow linearly with its size.
    #[test]
    fn runs_that_claim_the_same_bytes_cost_no_more_than_the_file() {
        let init = write_mp4(
            &[TrackSpec {
                handler: *b"vide",
                timescale: 90_000,
                sample_entry: avc1_entry(16, 16, &[]),
                samples: Vec::new(),
            }],
            1.0,
        );
        for (runs, data) in [(100, 16_384), (400, 65_536), (1_600, 262_144)] {
            let segment = overlapping_runs(runs, data);
            let mp4 = Mp4::parse_segment(&init, &segment, Limits::default()).unwrap();
            let t = &mp4.tracks[0];
            let samples = t.samples().count();
            assert!(samples <= segment.len(), "{runs} runs: {samples} samples");
            assert_eq!(t.index().len(), samples);
            // The first run still gets every byte it can honestly claim.
            assert!(
                samples >= data,
                "{runs} runs: {samples} samples for {data} bytes"
            );
            assert!(
                mp4.warnings
                    .iter()
                    .any(|w| w.message.contains("do not fit"))
            );
        }
    }

    /// Runs that lie wholly beyond the end of the file claim none of its
    /// bytes, their samples are counted missing, and the index reserves
    /// nothing for them.
    #[test]
    fn runs_beyond_the_file_claim_nothing() {
        let init = write_mp4(
            &[TrackSpec {
                handler: *b"vide",
                timescale: 90_000,
                sample_entry: avc1_entry(16, 16, &[]),
                samples: Vec::new(),
            }],
            1.0,
        );
        // Four runs whose data offsets point 1 GB past the start of the moof.
        let mut segment = overlapping_runs(4, 65_536);
        let far = (1u32 << 30).to_be_bytes();
        let mut at = 0;
        while let Some(k) = segment[at..].windows(4).position(|w| w == b"trun") {
            let d = at + k + 4 + 4 + 4;
            segment[d..d + 4].copy_from_slice(&far);
            at = d;
        }
        let mp4 = Mp4::parse_segment(&init, &segment, Limits::default()).unwrap();
        let t = &mp4.tracks[0];
        let mut it = t.samples();
        assert_eq!(it.by_ref().count(), 0);
        assert_eq!(it.missing(), 4 * u32::MAX as u64);
        assert!(t.index().heap_bytes() < 4096, "{}", t.index().heap_bytes());
    }

    #[test]
    fn decode_times_at_the_ends_of_i64_saturate() {
        // tfdt is a u64: 2^63 reads as i64::MIN (with a composition offset of -1),
        // 2^63 - 1 as i64::MAX (with durations after it).
        let init = write_mp4(
            &[TrackSpec {
                handler: *b"vide",
                timescale: 90_000,
                sample_entry: avc1_entry(16, 16, &[]),
                samples: Vec::new(),
            }],
            1.0,
        );
        let first = fragment(1 << 63, 1, Some(-1));
        let segment = [first.clone(), fragment(i64::MAX as u64, 2, None)].concat();
        let mp4 = Mp4::parse_segment(&init, &segment, Limits::default()).unwrap();
        let t = &mp4.tracks[0];
        let got: Vec<(u64, i64, i64)> = t.samples().map(|s| (s.offset, s.dts, s.pts)).collect();
        // moof 8 + traf 8 + tfhd 24 + tfdt 20 + trun 20, then the mdat header.
        let second = first.len() as u64 + 88;
        assert_eq!(
            got,
            [
                (first.len() as u64 - 1, i64::MIN, i64::MIN),
                (second, i64::MAX, i64::MAX),
                (second + 1, i64::MAX, i64::MAX),
            ]
        );
        let index = t.index();
        let durations: Vec<u32> = index.iter().map(|s| s.duration).collect();
        assert_eq!(durations, [u32::MAX, 0, 10]);
        assert_eq!(index.get(0).map(|s| s.pts), Some(i64::MIN));
        assert_eq!(t.media_duration(), i64::MAX as u64);
    }

    #[test]
    fn run_totals_saturate() {
        // Without per-sample fields, a run's count is bounded only by the data it
        // covers: a segment of over 2 GiB can hold enough one-byte samples.
        let r = Run {
            entries: &[],
            count: u32::MAX,
            flags: 0,
            first_flags: None,
            default_duration: u32::MAX,
            default_size: 1,
            default_flags: 0,
            data_offset: 0,
            base_dts: 0,
            entry: 0,
        };
        assert_eq!(run_totals(&r), (u32::MAX as u64, i64::MAX));
    }
}

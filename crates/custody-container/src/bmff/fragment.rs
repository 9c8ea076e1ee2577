//! Movie fragments: `moof`/`traf`/`tfhd`/`tfdt`/`trun` resolved into runs.

use super::Mp4;
use super::boxes::BoxRef;
use super::sample::Run;
use super::track::checked_entries;
use crate::bytes::{be32, be64};
use crate::error::{Diag, Result};

/// Resolves every `moof` in `moofs` (boxes of `src`) into sample runs on their tracks.
pub(crate) fn apply<'a>(
    mp4: &mut Mp4<'a>,
    src: &'a [u8],
    moofs: &[BoxRef<'a>],
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
                end = s.dts + s.duration as i64;
            }
            end
        })
        .collect();
    for (mi, moof) in moofs.iter().enumerate() {
        let mut prev_traf_end: Option<u64> = None;
        for (ti, traf) in moof
            .children(0)
            .flatten()
            .filter(|b| &b.kind.0 == b"traf")
            .enumerate()
        {
            let path = format!("moof[{mi}]/traf[{ti}]");
            let mut tfhd = None;
            let mut tfdt = None;
            for b in traf.children(0).flatten() {
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
                    // No per-sample fields: the count is bounded only by the data it can cover.
                    let fit = (src.len() as u64)
                        .checked_div(default_size as u64)
                        .unwrap_or(0);
                    if count as u64 > fit {
                        diag.note(
                            trun.offset,
                            &rpath,
                            format!("{count} samples of {default_size} bytes cannot fit in the file; {fit} kept"),
                        )?;
                    }
                    count.min(fit.min(u32::MAX as u64) as u32)
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
        r.default_duration as i64 * r.count as i64
    };
    if has_dur || has_size {
        for e in r.entries.chunks_exact(stride) {
            let mut at = 0;
            if has_dur {
                ticks += be32(e, 0).unwrap_or(0) as i64;
                at = 4;
            }
            if has_size {
                bytes += be32(e, at).unwrap_or(0) as u64;
            }
        }
    }
    (bytes, ticks)
}

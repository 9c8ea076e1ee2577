//! What a transcoding job tells the evidence store: the signed derivation
//! record of an output ([`derivation`]) and the facts its access overlay
//! shows ([`fill_overlay`]).

use custody_evidence::manifest::{Derivation, DerivationProof, ProofTrack, Recording, Software};
use custody_transcode::{Archived, Overlay, PacketProof, Proof, TrackOutcome};
use std::collections::BTreeMap;
use std::path::Path;

/// The tool named in a derivation's `software.tool`.
const TOOL: &str = concat!("custody ", env!("CARGO_PKG_VERSION"));

/// The derivation record of `a`: its sources' BLAKE3, the profile, every
/// parameter (with the container), the software and the proof. `None`
/// when the output was not proven (only a proven derivative is recorded).
pub(crate) fn derivation(a: &Archived) -> Option<Derivation> {
    let mut parameters = a.parameters.clone();
    parameters.insert("container".into(), a.container.muxer().into());
    record(
        a.proof.as_ref()?,
        &a.tracks,
        a.sources.iter().map(|s| s.blake3.clone()).collect(),
        a.profile.name(),
        parameters,
        &a.ffmpeg,
    )
}

/// The derivation record of an output made from `sources` (their BLAKE3)
/// by `profile` with `parameters`, proven by `proof` (`None` when the proof
/// failed); `tracks` names the output's tracks by kind.
pub(crate) fn record(
    proof: &Proof,
    tracks: &[TrackOutcome],
    sources: Vec<String>,
    profile: &str,
    parameters: BTreeMap<String, String>,
    ffmpeg: &str,
) -> Option<Derivation> {
    let proof = match proof {
        p if !p.ok() => return None,
        Proof::Packets(p) => DerivationProof {
            kind: "packets".into(),
            result: "packets_matched".into(),
            tracks: packet_tracks(tracks, p),
        },
        Proof::Frames(f) => {
            let mut proof_tracks: Vec<ProofTrack> = f
                .comparison
                .streams
                .iter()
                .map(|s| ProofTrack {
                    output_stream: s.b_stream as u64,
                    kind: s.kind.into(),
                    unit: "frames".into(),
                    source_units: Some(s.a_frames),
                    output_units: s.b_frames,
                    matched: s.b_frames.saturating_sub(s.differing),
                    coverage: Vec::new(),
                })
                .collect();
            if let Some(p) = &f.copies {
                proof_tracks.extend(packet_tracks(tracks, p));
            }
            DerivationProof {
                kind: "frames".into(),
                result: if f.lossless && f.comparison.identical {
                    "identical"
                } else {
                    "lossy"
                }
                .into(),
                tracks: proof_tracks,
            }
        }
    };
    Some(Derivation {
        sources,
        profile: profile.into(),
        parameters,
        software: Software {
            tool: TOOL.into(),
            ffmpeg: ffmpeg.into(),
        },
        proof,
    })
}

/// The packet-proof tracks of `p`, each named by the kind of its output track.
fn packet_tracks(tracks: &[TrackOutcome], p: &PacketProof) -> Vec<ProofTrack> {
    p.tracks
        .iter()
        .map(|t| ProofTrack {
            output_stream: t.output_stream as u64,
            kind: tracks
                .iter()
                .find(|o| o.output_stream == Some(t.output_stream))
                .map_or_else(|| t.codec.clone(), |o| o.kind.clone()),
            unit: "packets".into(),
            source_units: None,
            output_units: t.packets,
            matched: t.matched,
            coverage: t
                .coverage
                .iter()
                .map(|c| [c.source as u64, c.first, c.last])
                .collect(),
        })
        .collect()
}

/// Fills what `overlay` leaves unknown: first from a registered recording
/// (its signed manifest), then from the file itself (its creation time, and
/// the device and officer its name carries). What the caller gave wins.
pub(crate) fn fill_overlay(overlay: &mut Overlay, recording: Option<&Recording>, file: &Path) {
    if let Some(r) = recording {
        fill(overlay, r.start.as_deref(), &r.device_serial, &r.officer);
    }
    let created = crate::probe(file, &Default::default())
        .ok()
        .and_then(|p| p.created);
    let patterns: Vec<String> = custody_evidence::names::DEFAULT_PATTERNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let named = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| custody_evidence::names::facts_from_name(&patterns, n));
    let (serial, officer) = named.map_or((None, None), |n| (n.serial, n.officer));
    fill(overlay, created.as_deref(), &serial, &officer);
}

fn fill(o: &mut Overlay, start: Option<&str>, device: &Option<String>, officer: &Option<String>) {
    if o.start_utc.is_none() {
        o.start_utc = start.and_then(custody_evidence::parse_utc);
    }
    if o.device.is_none() {
        o.device.clone_from(device);
    }
    if o.officer.is_none() {
        o.officer.clone_from(officer);
    }
}

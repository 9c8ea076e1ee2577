//! Property tests: box trees round-trip through the walker; the in-place
//! sample iterator and the compact index equal a naive expansion of the
//! tables (moov tables and fragment runs with every flag combination);
//! transport-stream packetisation round-trips.

use custody::container::bmff::{BoxIter, Mp4, write_box};
use custody::container::ts::Ts;
use custody::container::{FourCC, Limits};
use custody_testkit::ts::{self, PacketSize, TsWriter};
use proptest::prelude::*;

// ---------- box trees ----------

#[derive(Debug, Clone)]
enum Node {
    Leaf {
        kind: [u8; 4],
        payload: Vec<u8>,
        large: bool,
    },
    Uuid {
        usertype: [u8; 16],
        payload: Vec<u8>,
    },
    Container {
        kind: [u8; 4],
        children: Vec<Node>,
        large: bool,
    },
}

const CONTAINERS: [&[u8; 4]; 4] = [b"moov", b"trak", b"mdia", b"udta"];

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (
            prop::sample::select(vec![*b"free", *b"mdat", *b"abcd", *b"\xa9xyz"]),
            prop::collection::vec(any::<u8>(), 0..40),
            any::<bool>()
        )
            .prop_map(|(kind, payload, large)| Node::Leaf {
                kind,
                payload,
                large
            }),
        (any::<[u8; 16]>(), prop::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(usertype, payload)| Node::Uuid { usertype, payload }),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        (
            prop::sample::select(CONTAINERS.iter().map(|k| **k).collect::<Vec<_>>()),
            prop::collection::vec(inner, 0..5),
            any::<bool>(),
        )
            .prop_map(|(kind, children, large)| Node::Container {
                kind,
                children,
                large,
            })
    })
}

fn serialise(n: &Node, out: &mut Vec<u8>) {
    match n {
        Node::Leaf {
            kind,
            payload,
            large,
        } => write_box(out, FourCC(*kind), payload, *large),
        Node::Uuid { usertype, payload } => write_box(
            out,
            FourCC(*b"uuid"),
            &[&usertype[..], payload].concat(),
            false,
        ),
        Node::Container {
            kind,
            children,
            large,
        } => {
            let mut body = Vec::new();
            children.iter().for_each(|c| serialise(c, &mut body));
            write_box(out, FourCC(*kind), &body, *large);
        }
    }
}

fn parse_tree(data: &[u8], base: u64) -> Vec<Node> {
    BoxIter::new(data, base)
        .map(|b| {
            let b = b.expect("a serialised tree parses");
            assert!(!b.truncated);
            if CONTAINERS.iter().any(|k| **k == b.kind.0) {
                Node::Container {
                    kind: b.kind.0,
                    children: parse_tree(b.payload, b.payload_offset()),
                    large: b.header_len == 16,
                }
            } else if let Some(usertype) = b.usertype {
                Node::Uuid {
                    usertype,
                    payload: b.payload.to_vec(),
                }
            } else {
                Node::Leaf {
                    kind: b.kind.0,
                    payload: b.payload.to_vec(),
                    large: b.header_len == 16,
                }
            }
        })
        .collect()
}

fn same(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (
            Node::Leaf {
                kind: k1,
                payload: p1,
                large: l1,
            },
            Node::Leaf {
                kind: k2,
                payload: p2,
                large: l2,
            },
        ) => k1 == k2 && p1 == p2 && l1 == l2,
        (
            Node::Uuid {
                usertype: u1,
                payload: p1,
            },
            Node::Uuid {
                usertype: u2,
                payload: p2,
            },
        ) => u1 == u2 && p1 == p2,
        (
            Node::Container {
                kind: k1,
                children: c1,
                large: l1,
            },
            Node::Container {
                kind: k2,
                children: c2,
                large: l2,
            },
        ) => {
            k1 == k2
                && l1 == l2
                && c1.len() == c2.len()
                && c1.iter().zip(c2).all(|(x, y)| same(x, y))
        }
        _ => false,
    }
}

proptest! {
    #[test]
    fn box_trees_round_trip(nodes in prop::collection::vec(node(), 0..6)) {
        let mut file = Vec::new();
        nodes.iter().for_each(|n| serialise(n, &mut file));
        let back = parse_tree(&file, 0);
        prop_assert_eq!(back.len(), nodes.len());
        for (a, b) in nodes.iter().zip(&back) {
            prop_assert!(same(a, b), "{:?} != {:?}", a, b);
        }
        // Any truncation keeps the whole boxes before the cut, then reports
        // the cut box exactly once, at its own offset: as a truncated box or
        // as an error. A cut on a box boundary reports nothing more.
        let whole: Vec<(u64, u64)> = BoxIter::new(&file, 0)
            .map(|b| b.map(|b| (b.offset, b.size)).unwrap())
            .collect();
        for cut in [file.len() / 3, file.len() / 2, file.len().saturating_sub(1)] {
            let got: Vec<_> = BoxIter::new(&file[..cut], 0).collect();
            let kept = whole.iter().take_while(|(o, s)| o + s <= cut as u64).count();
            let on_boundary = cut == 0 || whole.iter().any(|(o, s)| o + s == cut as u64);
            prop_assert_eq!(got.len(), kept + usize::from(!on_boundary), "cut at {}", cut);
            for (g, w) in got.iter().zip(&whole).take(kept) {
                let g = g.as_ref().unwrap();
                prop_assert_eq!((g.offset, g.size, g.truncated), (w.0, w.1, false));
            }
            if !on_boundary {
                let at = whole[kept].0;
                match &got[kept] {
                    Ok(b) => prop_assert!(b.truncated && b.offset == at, "{:?}", b),
                    Err(e) => prop_assert_eq!(e.offset, at),
                }
            }
        }
    }
}

// ---------- sample tables ----------

fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_box(&mut v, FourCC(*kind), payload, false);
    v
}

fn fullbox(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    bx(
        kind,
        &[&((version as u32) << 24 | flags).to_be_bytes()[..], body].concat(),
    )
}

fn be(vals: &[u32]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// Random tables in every encoding the parser accepts.
#[derive(Debug, Clone)]
struct Tables {
    sizes: Vec<u32>,
    fixed: Option<u32>,
    stz2_bits: Option<u8>,
    chunk_lens: Vec<u32>,
    chunk_gaps: Vec<u32>,
    co64: bool,
    sdis: Vec<u32>,
    durations: Vec<u32>,
    stts_short: usize,
    ctts: Option<(u8, Vec<i32>)>,
    stss: Option<Vec<bool>>,
    truncate: Option<usize>,
}

fn tables() -> impl Strategy<Value = Tables> {
    (0usize..200).prop_flat_map(|n| {
        (
            prop::collection::vec(1u32..300, n),
            prop::option::weighted(0.2, 1u32..100),
            prop::option::weighted(0.3, prop::sample::select(vec![4u8, 8, 16])),
            prop::collection::vec(1u32..6, 1..60),
            prop::collection::vec(0u32..20, 60),
            any::<bool>(),
            prop::collection::vec(1u32..3, 60),
            prop::collection::vec(prop::sample::select(vec![1000u32, 1001, 512, 0]), n),
            0usize..3,
            prop::option::of((0u8..2, prop::collection::vec(-3000i32..3000, n))),
            prop::option::of(prop::collection::vec(any::<bool>(), n)),
            prop::option::weighted(0.3, 0usize..60_000),
        )
            .prop_map(
                |(
                    sizes,
                    fixed,
                    stz2_bits,
                    chunk_lens,
                    chunk_gaps,
                    co64,
                    sdis,
                    durations,
                    stts_short,
                    ctts,
                    stss,
                    truncate,
                )| Tables {
                    sizes,
                    fixed,
                    stz2_bits,
                    chunk_lens,
                    chunk_gaps,
                    co64,
                    sdis,
                    durations,
                    stts_short,
                    ctts,
                    stss,
                    truncate,
                },
            )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expect {
    offset: u64,
    size: u32,
    dts: i64,
    pts: i64,
    duration: u32,
    keyframe: bool,
    entry: u32,
}

fn rle(v: impl Iterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some((n, last)) if *last == x => *n += 1,
            _ => out.push((1, x)),
        }
    }
    out
}

/// Builds a file from the tables and the naive per-sample expansion it must parse to.
fn build(t: &Tables) -> (Vec<u8>, Vec<Expect>) {
    let n = t.sizes.len();
    let sizes: Vec<u32> = match (t.fixed, t.stz2_bits) {
        (Some(f), _) => vec![f; n],
        (None, Some(4)) => t.sizes.iter().map(|s| s % 16).collect(),
        (None, Some(8)) => t.sizes.iter().map(|s| s % 256).collect(),
        _ => t.sizes.clone(),
    };
    // Chunks cover all samples: cycle through chunk_lens.
    let mut chunks: Vec<u32> = Vec::new();
    let mut left = n as u32;
    let mut k = 0;
    while left > 0 {
        let c = t.chunk_lens[k % t.chunk_lens.len()].min(left);
        chunks.push(c);
        left -= c;
        k += 1;
    }
    // The moov sits in a fixed area at the front; sample data starts at `header`.
    let header = 16 * 1024;
    let mut offsets = Vec::new();
    let mut pos = header as u64;
    let mut si = 0;
    for (c, &len) in chunks.iter().enumerate() {
        pos += t.chunk_gaps[c % t.chunk_gaps.len()] as u64;
        offsets.push(pos);
        for _ in 0..len {
            pos += sizes[si] as u64;
            si += 1;
        }
    }
    let data_end = pos;
    // stsc: one entry per run of equal (len, sdi).
    let sdi_of = |c: usize| t.sdis[c % t.sdis.len()];
    let mut stsc = Vec::new();
    for c in 0..chunks.len() {
        if c == 0 || chunks[c] != chunks[c - 1] || sdi_of(c) != sdi_of(c - 1) {
            stsc.push([c as u32 + 1, chunks[c], sdi_of(c)]);
        }
    }
    // stts, possibly missing its last entries (the last delta then repeats).
    let stts_runs = rle(t.durations.iter().copied());
    let keep = stts_runs
        .len()
        .saturating_sub(t.stts_short)
        .max(stts_runs.len().min(1));
    let stts_runs = &stts_runs[..keep];
    let mut durations: Vec<u32> = stts_runs
        .iter()
        .flat_map(|&(c, v)| std::iter::repeat_n(v, c as usize))
        .collect();
    let last = durations.last().copied().unwrap_or(0);
    durations.resize(n, last);

    let mut stbl = Vec::new();
    let avc1 = custody_testkit::mp4::avc1_entry(16, 16, &[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]);
    let mut entries = be(&[2]);
    entries.extend_from_slice(&avc1);
    entries.extend_from_slice(&avc1);
    stbl.extend(fullbox(b"stsd", 0, 0, &entries));
    let mut b = be(&[stts_runs.len() as u32]);
    stts_runs.iter().for_each(|&(c, v)| b.extend(be(&[c, v])));
    stbl.extend(fullbox(b"stts", 0, 0, &b));
    let mut cts = vec![0i32; n];
    if let Some((version, vals)) = &t.ctts {
        let vals: Vec<i32> = vals
            .iter()
            .map(|v| if *version == 0 { v.abs() } else { *v })
            .collect();
        let runs = rle(vals.iter().map(|v| *v as u32));
        let mut b = be(&[runs.len() as u32]);
        runs.iter().for_each(|&(c, v)| b.extend(be(&[c, v])));
        stbl.extend(fullbox(b"ctts", *version, 0, &b));
        cts = vals;
    }
    let mut keys = vec![true; n];
    if let Some(flags) = &t.stss {
        let list: Vec<u32> = (0..n as u32)
            .filter(|&i| flags[i as usize])
            .map(|i| i + 1)
            .collect();
        stbl.extend(fullbox(
            b"stss",
            0,
            0,
            &[be(&[list.len() as u32]), be(&list)].concat(),
        ));
        keys = flags.clone();
    }
    let mut b = be(&[stsc.len() as u32]);
    stsc.iter().for_each(|e| b.extend(be(e)));
    stbl.extend(fullbox(b"stsc", 0, 0, &b));
    match (t.fixed, t.stz2_bits) {
        (Some(f), _) => stbl.extend(fullbox(b"stsz", 0, 0, &be(&[f, n as u32]))),
        (None, Some(bits)) => {
            let mut body = vec![0, 0, 0, bits];
            body.extend(be(&[n as u32]));
            match bits {
                4 => sizes.chunks(2).for_each(|p| {
                    body.push(((p[0] as u8) << 4) | p.get(1).map_or(0, |&x| x as u8))
                }),
                8 => sizes.iter().for_each(|&s| body.push(s as u8)),
                _ => sizes
                    .iter()
                    .for_each(|&s| body.extend((s as u16).to_be_bytes())),
            }
            stbl.extend(fullbox(b"stz2", 0, 0, &body));
        }
        _ => stbl.extend(fullbox(
            b"stsz",
            0,
            0,
            &[be(&[0, n as u32]), be(&sizes)].concat(),
        )),
    }
    if t.co64 {
        let mut b = be(&[offsets.len() as u32]);
        offsets.iter().for_each(|o| b.extend(o.to_be_bytes()));
        stbl.extend(fullbox(b"co64", 0, 0, &b));
    } else {
        let o32: Vec<u32> = offsets.iter().map(|&o| o as u32).collect();
        stbl.extend(fullbox(
            b"stco",
            0,
            0,
            &[be(&[o32.len() as u32]), be(&o32)].concat(),
        ));
    }
    let mut mdhd = vec![0u8; 20];
    mdhd[8..12].copy_from_slice(&90_000u32.to_be_bytes());
    let mut hdlr = vec![0u8; 21];
    hdlr[4..8].copy_from_slice(b"vide");
    let mut tkhd = vec![0u8; 80];
    tkhd[8..12].copy_from_slice(&1u32.to_be_bytes());
    let mdia = [
        fullbox(b"mdhd", 0, 0, &mdhd),
        fullbox(b"hdlr", 0, 0, &hdlr),
        bx(b"minf", &bx(b"stbl", &stbl)),
    ]
    .concat();
    let trak = bx(
        b"trak",
        &[fullbox(b"tkhd", 0, 3, &tkhd), bx(b"mdia", &mdia)].concat(),
    );
    let mut mvhd = vec![0u8; 96];
    mvhd[8..12].copy_from_slice(&1000u32.to_be_bytes());
    let moov = bx(b"moov", &[fullbox(b"mvhd", 0, 0, &mvhd), trak].concat());
    // Layout: moov, a free box up to `header - 8`, then the mdat header and the sample bytes.
    let mut file = moov;
    assert!(
        file.len() + 16 <= header,
        "moov too large for the test layout"
    );
    let pad = header - 8 - file.len();
    file.extend(bx(b"free", &vec![0u8; pad - 8]));
    let mdat_len = data_end - header as u64;
    file.extend(((mdat_len + 8) as u32).to_be_bytes());
    file.extend(b"mdat");
    file.resize(data_end as usize, 0xab);
    // A recording cut short somewhere in its media data (the moov, at the front, survives).
    let file = match t.truncate {
        Some(cut) => file[..(header + cut).min(file.len())].to_vec(),
        None => file,
    };
    let mut expect = Vec::new();
    let mut si = 0;
    let mut dts = 0i64;
    for (c, &len) in chunks.iter().enumerate() {
        let mut off = offsets[c];
        for _ in 0..len {
            let e = Expect {
                offset: off,
                size: sizes[si],
                dts,
                pts: dts + cts[si] as i64,
                duration: durations[si],
                keyframe: keys[si],
                entry: sdi_of(c) - 1,
            };
            if off + sizes[si] as u64 <= file.len() as u64 {
                expect.push(e);
            }
            off += sizes[si] as u64;
            dts += durations[si] as i64;
            si += 1;
        }
    }
    (file, expect)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn iterator_and_index_equal_naive_expansion(t in tables()) {
        let (file, expect) = build(&t);
        let mp4 = Mp4::parse(&file, Limits::default()).expect("parses");
        let track = &mp4.tracks[0];
        let got: Vec<Expect> = track.samples().map(|s| Expect {
            offset: s.offset, size: s.size, dts: s.dts, pts: s.pts, duration: s.duration, keyframe: s.keyframe, entry: s.entry,
        }).collect();
        prop_assert_eq!(&got, &expect);
        let index = track.index();
        prop_assert_eq!(index.len(), expect.len());
        let contiguous = expect.len() == t.sizes.len();
        for (i, e) in expect.iter().enumerate() {
            let s = index.get(i).unwrap();
            prop_assert_eq!((s.offset, s.size, s.dts, s.pts, s.keyframe, s.entry), (e.offset, e.size, e.dts, e.pts, e.keyframe, e.entry));
            if contiguous {
                prop_assert_eq!(s.duration, e.duration);
            }
            prop_assert!(mp4.sample_bytes(&s).is_some());
        }
    }
}

// ---------- fragments ----------

#[derive(Debug, Clone)]
struct RunSpec {
    flags: u32,
    samples: Vec<(u32, u32, u32, i32)>, // duration, size, flags, cts
    first_flags: u32,
}

fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        0u32..32,
        prop::collection::vec(
            (
                1u32..2000,
                1u32..400,
                prop::sample::select(vec![0u32, 0x0001_0000, 0x0200_0000]),
                -500i32..500,
            ),
            0..40,
        ),
        any::<u32>(),
    )
        .prop_map(|(bits, samples, first_flags)| {
            // bit 0: data offset, bit 1: first-sample flags, bits 2-4 and 5: per-sample duration/size/flags/cts.
            let mut flags = 0;
            if bits & 1 != 0 {
                flags |= 0x001
            }
            if bits & 2 != 0 {
                flags |= 0x004
            }
            if bits & 4 != 0 {
                flags |= 0x100
            }
            if bits & 8 != 0 {
                flags |= 0x200
            }
            if bits & 16 != 0 {
                flags |= 0x400
            }
            if samples.len() % 2 == 1 {
                flags |= 0x800
            }
            RunSpec {
                flags,
                samples,
                first_flags: first_flags & 0x0001_0000,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fragment_runs_equal_naive_expansion(
        runs in prop::collection::vec(run_spec(), 1..4),
        defaults in (1u32..3000, 1u32..300, prop::sample::select(vec![0u32, 0x0001_0000])),
        tfdt in 0u64..1_000_000,
    ) {
        let (d_dur, d_size, d_flags) = defaults;
        // init: moov with mvex/trex giving the defaults.
        let mut mdhd = vec![0u8; 20];
        mdhd[8..12].copy_from_slice(&90_000u32.to_be_bytes());
        let mut hdlr = vec![0u8; 21];
        hdlr[4..8].copy_from_slice(b"vide");
        let mut tkhd = vec![0u8; 80];
        tkhd[8..12].copy_from_slice(&1u32.to_be_bytes());
        let avc1 = custody_testkit::mp4::avc1_entry(16, 16, &[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]);
        let stbl = [
            fullbox(b"stsd", 0, 0, &[be(&[1]), avc1].concat()),
            fullbox(b"stts", 0, 0, &be(&[0])),
            fullbox(b"stsc", 0, 0, &be(&[0])),
            fullbox(b"stsz", 0, 0, &be(&[0, 0])),
            fullbox(b"stco", 0, 0, &be(&[0])),
        ].concat();
        let mdia = [fullbox(b"mdhd", 0, 0, &mdhd), fullbox(b"hdlr", 0, 0, &hdlr), bx(b"minf", &bx(b"stbl", &stbl))].concat();
        let trak = bx(b"trak", &[fullbox(b"tkhd", 0, 3, &tkhd), bx(b"mdia", &mdia)].concat());
        let trex = fullbox(b"trex", 0, 0, &be(&[1, 1, d_dur, d_size, d_flags]));
        let mut mvhd = vec![0u8; 96];
        mvhd[8..12].copy_from_slice(&1000u32.to_be_bytes());
        let moov = bx(b"moov", &[fullbox(b"mvhd", 0, 0, &mvhd), trak, bx(b"mvex", &trex)].concat());
        let mut file = bx(b"ftyp", b"iso6\0\0\0\0iso6");
        file.extend(moov);
        // One moof (default-base-is-moof) with one traf holding the runs, then one mdat.
        let moof_off = file.len() as u64;
        let build_moof = |data_start: u64| {
            let mut traf = fullbox(b"tfhd", 0, 0x020000, &be(&[1]));
            traf.extend(fullbox(b"tfdt", 1, 0, &tfdt.to_be_bytes()));
            let mut pos = data_start - moof_off;
            for r in &runs {
                let mut body = be(&[r.samples.len() as u32]);
                if r.flags & 0x001 != 0 { body.extend(be(&[pos as u32])); }
                if r.flags & 0x004 != 0 { body.extend(be(&[r.first_flags])); }
                for &(dur, size, fl, cts) in &r.samples {
                    if r.flags & 0x100 != 0 { body.extend(be(&[dur])); }
                    if r.flags & 0x200 != 0 { body.extend(be(&[size])); }
                    if r.flags & 0x400 != 0 { body.extend(be(&[fl])); }
                    if r.flags & 0x800 != 0 { body.extend(be(&[cts as u32])); }
                    pos += if r.flags & 0x200 != 0 { size } else { d_size } as u64;
                }
                traf.extend(fullbox(b"trun", 1, r.flags, &body));
            }
            bx(b"moof", &[fullbox(b"mfhd", 0, 0, &be(&[1])), bx(b"traf", &traf)].concat())
        };
        // Field widths are fixed: the length does not depend on where the data starts.
        let moof_len = build_moof(moof_off).len() as u64;
        let data_start = moof_off + moof_len + 8;
        file.extend(build_moof(data_start));
        let total: u64 = runs.iter().flat_map(|r| r.samples.iter().map(move |s| if r.flags & 0x200 != 0 { s.1 } else { d_size } as u64)).sum();
        file.extend(((total + 8) as u32).to_be_bytes());
        file.extend(b"mdat");
        file.resize((data_start + total) as usize, 7);
        // Naive expansion. A run without a data offset continues where the previous ended;
        // the first run without one starts at the moof (default-base-is-moof).
        let mut expect = Vec::new();
        let mut pos = moof_off;
        let mut dts = tfdt as i64;
        let mut planned = data_start;
        for r in &runs {
            if r.flags & 0x001 != 0 { pos = planned; }
            for (i, &(dur, size, fl, cts)) in r.samples.iter().enumerate() {
                let duration = if r.flags & 0x100 != 0 { dur } else { d_dur };
                let size = if r.flags & 0x200 != 0 { size } else { d_size };
                let flags = if r.flags & 0x400 != 0 { fl } else if i == 0 && r.flags & 0x004 != 0 { r.first_flags } else { d_flags };
                let cts = if r.flags & 0x800 != 0 { cts as i64 } else { 0 };
                if pos + size as u64 <= file.len() as u64 {
                    expect.push((pos, size, dts, dts + cts, duration, flags & 0x0001_0000 == 0));
                }
                pos += size as u64;
                planned += size as u64;
                dts += duration as i64;
            }
        }
        let mp4 = Mp4::parse(&file, Limits::default()).expect("parses");
        prop_assert!(mp4.fragmented);
        let got: Vec<_> = mp4.tracks[0].samples().map(|s| (s.offset, s.size, s.dts, s.pts, s.duration, s.keyframe)).collect();
        prop_assert_eq!(got, expect);
    }
}

// ---------- transport streams ----------

/// Writes `payload` on `pid` as one unit, each packet but the last taking
/// the next adaptation-field stuffing length from `stuffing` (0: none).
fn packetise(w: &mut TsWriter, pid: u16, payload: &[u8], stuffing: &[u8]) {
    let mut rest = payload;
    let mut first = true;
    let mut k = 0;
    while !rest.is_empty() || first {
        let stuff = stuffing[k % stuffing.len()] as usize;
        k += 1;
        // A stuffed packet gives up the field's length byte and `stuff`
        // bytes; the last (under 184 bytes left) is stuffed to fit them.
        let take = match rest.len() {
            n if n < 184 => n,
            _ if stuff > 0 => 183 - stuff,
            _ => 184,
        };
        w.packet(pid, first, &rest[..take]);
        rest = &rest[take..];
        first = false;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn ts_packetise_round_trips(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..1500), 1..12),
        start in 0u64..(1 << 33),
        step in 1u64..(1 << 28),
        stuffing in prop::collection::vec(0u8..40, 1..5),
        m2ts in any::<bool>(),
    ) {
        let mut w = TsWriter::new(if m2ts { PacketSize::M2ts192 } else { PacketSize::Ts188 });
        w.psi(0, &ts::pat(0x100));
        // PMT: one private-data stream (type 0x06) on PID 0x101.
        w.psi(0x100, &ts::pmt(&[(0x06, 0x101)]));
        let mut pts_list = Vec::new();
        // Opaque private data: a payload that happened to begin like an audio frame
        // would (rightly) be recognised as audio, so the first byte is kept off sync words.
        let mut payloads = payloads;
        if let Some(b) = payloads[0].first_mut() && matches!(*b, 0xff | 0x0b | 0x56) {
            *b = 0;
        }
        for (i, p) in payloads.iter().enumerate() {
            let pts = (start + i as u64 * step) % (1 << 33);
            pts_list.push(pts);
            let mut pes = vec![0, 0, 1, 0xbd, 0, 0, 0x80, 0x80, 5];
            pes.extend(ts::pes_timestamp(2, pts));
            pes.extend(p);
            let len = pes.len() - 6;
            if len <= 0xffff {
                pes[4..6].copy_from_slice(&(len as u16).to_be_bytes());
            }
            packetise(&mut w, 0x101, &pes, &stuffing);
        }
        let out = w.into_bytes();
        // Every unit's bytes as the parser hands them over, in one pass.
        let mut handed: Vec<Vec<u8>> = Vec::new();
        let ts = Ts::parse_with_units(&out, Limits::default(), &mut |_, _, _, b| {
            handed.push(b.expect("bytes held").to_vec())
        })
        .expect("parses");
        prop_assert_eq!(&handed, &payloads);
        prop_assert_eq!(ts.packet_size, if m2ts { 192 } else { 188 });
        prop_assert_eq!(ts.streams.len(), 1);
        let s = &ts.streams[0];
        prop_assert_eq!(s.cc_errors, 0);
        prop_assert_eq!(s.units.len(), payloads.len());
        let mut prev: Option<i64> = None;
        for (i, u) in s.units.iter().enumerate() {
            prop_assert_eq!(u.size as usize, payloads[i].len());
            let bytes = ts.unit_bytes(0, &u);
            prop_assert_eq!(bytes.as_deref(), Some(&payloads[i][..]));
            let pts = u.pts.unwrap();
            prop_assert_eq!(pts.rem_euclid(1 << 33) as u64, pts_list[i]);
            if let Some(p) = prev {
                prop_assert!(pts > p, "timestamps unwrap monotonically: {} then {}", p, pts);
            }
            prev = Some(pts);
        }
        prop_assert!(ts.warnings.is_empty(), "{:?}", ts.warnings);
    }
}

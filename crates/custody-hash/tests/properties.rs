//! The chunk tree locates every change exactly and verifies untouched ranges.

use custody_hash::tree::{ChunkTree, leaf_count, locate, verify_range};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::io::Cursor;

const LEAF: u32 = 1024;

fn data() -> impl Strategy<Value = Vec<u8>> {
    (1usize..40_000).prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
}

/// Expected changed ranges: each touched leaf, merged when adjacent.
fn expected(size: u64, touched: &BTreeSet<u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &i in touched {
        let r = (i * LEAF as u64, ((i + 1) * LEAF as u64).min(size));
        match out.last_mut() {
            Some(l) if l.1 == r.0 => l.1 = r.1,
            _ => out.push(r),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn flips_are_located_to_their_leaves(original in data(), flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6)) {
        let tree = ChunkTree::of_bytes(&original, LEAF);
        let mut changed = original.clone();
        let mut touched = BTreeSet::new();
        for (at, x) in &flips {
            let i = at.index(changed.len());
            changed[i] ^= x;
            touched.insert(i as u64 / LEAF as u64);
        }
        // Flips may cancel out: a leaf is touched only if its bytes differ.
        touched.retain(|&l| {
            let r = tree.leaf_range(l);
            original[r.start as usize..r.end as usize] != changed[r.start as usize..r.end as usize]
        });
        let report = locate(&mut &changed[..], &tree).unwrap();
        let got: Vec<(u64, u64)> = report.changed.iter().map(|r| (r.start, r.end)).collect();
        prop_assert_eq!(got, expected(original.len() as u64, &touched));
        prop_assert_eq!(report.ok, touched.is_empty());
        // Untouched leaves verify, touched ones fail, against the trusted root.
        for l in 0..leaf_count(original.len() as u64, LEAF) {
            let r = tree.leaf_range(l);
            let ok = verify_range(&mut Cursor::new(&changed), &tree, &tree.root, r).unwrap();
            prop_assert_eq!(ok, !touched.contains(&l), "leaf {}", l);
        }
    }

    #[test]
    fn truncation_and_extension_are_reported(original in data(), cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..3000)) {
        let tree = ChunkTree::of_bytes(&original, LEAF);
        let n = cut.index(original.len());
        let report = locate(&mut &original[..n], &tree).unwrap();
        prop_assert!(report.truncated && !report.ok);
        let last = report.changed.last().unwrap();
        prop_assert_eq!((last.start, last.end), ((n as u64 / LEAF as u64) * LEAF as u64, original.len() as u64));
        let mut longer = original.clone();
        longer.extend_from_slice(&extra);
        let report = locate(&mut &longer[..], &tree).unwrap();
        prop_assert!(report.extended && !report.ok);
        // The first leaf that changes is the original's last one when it was
        // partial (it gains bytes); when the original ended on a leaf boundary
        // its leaves are all intact and the change starts at its end.
        let first_changed = report.changed[0].start;
        let len = original.len() as u64;
        let expected = if len.is_multiple_of(LEAF as u64) {
            len
        } else {
            (len / LEAF as u64) * LEAF as u64
        };
        prop_assert_eq!(first_changed, expected);
        prop_assert_eq!(report.changed.last().unwrap().end, longer.len() as u64);
    }
}

#[test]
fn a_forged_tree_is_refused() {
    let data = vec![5u8; 10_000];
    let mut tree = ChunkTree::of_bytes(&data, LEAF);
    let root = tree.root;
    tree.leaves[3][0] ^= 1;
    assert!(verify_range(&mut Cursor::new(&data), &tree, &root, 0..100).is_err());
    let other = [0u8; 32];
    assert!(
        verify_range(
            &mut Cursor::new(&data),
            &ChunkTree::of_bytes(&data, LEAF),
            &other,
            0..100
        )
        .is_err()
    );
}

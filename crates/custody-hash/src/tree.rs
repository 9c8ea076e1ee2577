//! The chunk tree: BLAKE3 chaining values of fixed-size leaves whose root is
//! the plain BLAKE3 hash of the file (identical to `b3sum`'s).
//!
//! BLAKE3 hashes 1 KiB chunks and merges them in a left-balanced binary tree.
//! Grouping chunks into power-of-two leaves (64 KiB by default) keeps every
//! subtree split on a leaf boundary, so the leaves' chaining values, merged
//! the same way, give exactly the BLAKE3 root. Storing the leaves (32 bytes
//! per 64 KiB, 0.05% of the file) lets [`locate`] name the leaves that changed
//! and [`verify_range`] check a byte range without reading the rest.

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

/// Default leaf size: 64 KiB.
pub const DEFAULT_LEAF_SIZE: u32 = 64 * 1024;
/// Smallest leaf size (one BLAKE3 chunk).
pub const MIN_LEAF_SIZE: u32 = 1024;
/// Largest leaf size.
pub const MAX_LEAF_SIZE: u32 = 1 << 24;

const MAGIC: &[u8; 8] = b"CSTDYTRE";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 1 + 5 + 8 + 8 + 32;

/// Errors reading or using a chunk tree.
#[non_exhaustive]
#[derive(Debug)]
pub enum TreeError {
    /// The outboard bytes are not a chunk tree.
    Format {
        /// Byte offset in the outboard data.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// The stored leaves do not merge to the stored (or trusted) root.
    RootMismatch,
    /// A range reaches beyond the file the tree describes.
    OutOfRange {
        /// Requested range.
        range: Range<u64>,
        /// File size the tree describes.
        size: u64,
    },
    /// Reading the file failed.
    Io(std::io::Error),
    /// A leaf size that is not a power of two from 1 KiB to 16 MiB.
    LeafSize(u32),
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::Format { offset, message } => {
                write!(f, "chunk tree @ {offset:#x}: {message}")
            }
            TreeError::LeafSize(n) => {
                write!(
                    f,
                    "leaf size {n} is not a power of two from 1 KiB to 16 MiB"
                )
            }
            TreeError::RootMismatch => {
                write!(f, "the chunk tree's leaves do not produce its root hash")
            }
            TreeError::OutOfRange { range, size } => {
                write!(
                    f,
                    "range {}..{} is outside the {size}-byte file",
                    range.start, range.end
                )
            }
            TreeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TreeError {}

impl From<std::io::Error> for TreeError {
    fn from(e: std::io::Error) -> Self {
        TreeError::Io(e)
    }
}

/// The leaves of a file's BLAKE3 tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkTree {
    /// Leaf size in bytes (a power of two, at least 1 KiB).
    pub leaf_size: u32,
    /// Size of the file in bytes.
    pub size: u64,
    /// Chaining value of each leaf (none for an empty file).
    pub leaves: Vec<ChainingValue>,
    /// The BLAKE3 hash of the file.
    pub root: [u8; 32],
}

/// Checks that `leaf_size` is a power of two in the allowed range.
pub fn valid_leaf_size(leaf_size: u32) -> bool {
    leaf_size.is_power_of_two() && (MIN_LEAF_SIZE..=MAX_LEAF_SIZE).contains(&leaf_size)
}

/// Number of leaves for a file of `size` bytes.
pub fn leaf_count(size: u64, leaf_size: u32) -> u64 {
    size.div_ceil(leaf_size as u64)
}

/// Chaining value of leaf `index` whose bytes are `bytes` (non-empty).
pub fn leaf_cv(index: u64, leaf_size: u32, bytes: &[u8]) -> ChainingValue {
    let mut h = blake3::Hasher::new();
    h.set_input_offset(index * leaf_size as u64);
    h.update(bytes);
    h.finalize_non_root()
}

/// Chaining values of consecutive leaves starting at leaf `first`, hashed in parallel.
/// `data` must start on a leaf boundary; only the last leaf may be short.
pub fn leaf_cvs(first: u64, leaf_size: u32, data: &[u8]) -> Vec<ChainingValue> {
    let mut out = vec![[0u8; 32]; leaf_count(data.len() as u64, leaf_size) as usize];
    fill_leaves(first, leaf_size, data, &mut out);
    out
}

/// Splits the work in contiguous halves (as BLAKE3's own `update_rayon` does)
/// down to runs of about 1 MiB hashed on one thread.
fn fill_leaves(first: u64, leaf_size: u32, data: &[u8], out: &mut [ChainingValue]) {
    let base = ((1usize << 20) / leaf_size as usize).max(1);
    if out.len() <= base {
        for (i, (c, o)) in data
            .chunks(leaf_size as usize)
            .zip(out.iter_mut())
            .enumerate()
        {
            *o = leaf_cv(first + i as u64, leaf_size, c);
        }
        return;
    }
    let half = out.len() / 2;
    let (dl, dr) = data.split_at((half * leaf_size as usize).min(data.len()));
    let (ol, or) = out.split_at_mut(half);
    rayon::join(
        || fill_leaves(first, leaf_size, dl, ol),
        || fill_leaves(first + half as u64, leaf_size, dr, or),
    );
}

/// Merges leaves `[lo, hi)` into the chaining value of their subtree.
fn subtree(leaves: &[ChainingValue]) -> ChainingValue {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let split = largest_power_of_two_below(leaves.len());
    let (l, r) = leaves.split_at(split);
    let (l, r) = if leaves.len() > 4096 {
        rayon::join(|| subtree(l), || subtree(r))
    } else {
        (subtree(l), subtree(r))
    };
    merge_subtrees_non_root(&l, &r, Mode::Hash)
}

fn largest_power_of_two_below(n: usize) -> usize {
    debug_assert!(n > 1);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The BLAKE3 root of leaves of a file with more than one leaf.
pub fn root_of(leaves: &[ChainingValue]) -> Option<[u8; 32]> {
    if leaves.len() < 2 {
        return None;
    }
    let split = largest_power_of_two_below(leaves.len());
    let (l, r) = leaves.split_at(split);
    Some(*merge_subtrees_root(&subtree(l), &subtree(r), Mode::Hash).as_bytes())
}

impl ChunkTree {
    /// Builds the tree of `data` in memory.
    pub fn of_bytes(data: &[u8], leaf_size: u32) -> ChunkTree {
        let leaves = if data.is_empty() {
            Vec::new()
        } else {
            leaf_cvs(0, leaf_size, data)
        };
        let root = if leaves.len() < 2 {
            *blake3::hash(data).as_bytes()
        } else {
            root_of(&leaves).unwrap_or_default()
        };
        ChunkTree {
            leaf_size,
            size: data.len() as u64,
            leaves,
            root,
        }
    }

    /// Byte range of leaf `i`.
    pub fn leaf_range(&self, i: u64) -> Range<u64> {
        let start = i * self.leaf_size as u64;
        start..(start + self.leaf_size as u64).min(self.size)
    }

    /// Checks that the leaves reproduce the root (for a file of one leaf or
    /// none this needs the bytes: see [`verify_range`]).
    pub fn is_consistent(&self) -> bool {
        match root_of(&self.leaves) {
            Some(r) => r == self.root,
            None => self.leaves.len() as u64 == leaf_count(self.size, self.leaf_size),
        }
    }

    /// Encodes the compact binary outboard form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.leaves.len() * 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(self.leaf_size.trailing_zeros() as u8);
        out.extend_from_slice(&[0; 5]);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&(self.leaves.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.root);
        for l in &self.leaves {
            out.extend_from_slice(l);
        }
        out
    }

    /// Decodes an outboard file; untrusted input, checked field by field.
    pub fn decode(b: &[u8]) -> Result<ChunkTree, TreeError> {
        let err = |offset: usize, message: String| TreeError::Format {
            offset: offset as u64,
            message,
        };
        if b.len() < HEADER_LEN {
            return Err(err(
                0,
                format!(
                    "{} bytes is shorter than the {HEADER_LEN}-byte header",
                    b.len()
                ),
            ));
        }
        if &b[..8] != MAGIC {
            return Err(err(0, "not a Custody chunk tree (bad magic)".into()));
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != VERSION {
            return Err(err(8, format!("unsupported version {version}")));
        }
        let shift = b[10];
        let leaf_size = 1u32
            .checked_shl(shift as u32)
            .filter(|&l| valid_leaf_size(l))
            .ok_or_else(|| err(10, format!("invalid leaf size 2^{shift}")))?;
        let le64 = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        let size = le64(16);
        let count = le64(24);
        let expected = leaf_count(size, leaf_size);
        if count != expected {
            return Err(err(
                24,
                format!(
                    "{count} leaves for a {size}-byte file with {leaf_size}-byte leaves (expected {expected})"
                ),
            ));
        }
        let body = &b[HEADER_LEN..];
        if (body.len() as u64) != count.saturating_mul(32) {
            return Err(err(
                HEADER_LEN,
                format!(
                    "{count} leaves need {} bytes but {} follow the header",
                    count.saturating_mul(32),
                    body.len()
                ),
            ));
        }
        let mut root = [0u8; 32];
        root.copy_from_slice(&b[32..64]);
        let leaves = body
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        Ok(ChunkTree {
            leaf_size,
            size,
            leaves,
            root,
        })
    }

    /// The root as lowercase hex.
    pub fn root_hex(&self) -> String {
        hex(&self.root)
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// What [`locate`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocateReport {
    /// True when the file matches the tree exactly.
    pub ok: bool,
    /// Size the tree describes.
    pub size_expected: u64,
    /// Size of the file now.
    pub size_actual: u64,
    /// The file is shorter than recorded.
    pub truncated: bool,
    /// The file is longer than recorded.
    pub extended: bool,
    /// Leaf-aligned byte ranges that differ (including bytes missing or added at the end).
    pub changed: Vec<ByteRange>,
}

/// A half-open byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

fn push_range(v: &mut Vec<ByteRange>, r: Range<u64>) {
    if r.start >= r.end {
        return;
    }
    match v.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ => v.push(ByteRange {
            start: r.start,
            end: r.end,
        }),
    }
}

/// Compares a file's current bytes with its tree, reading each byte once.
///
/// Leaves whose chaining value differs are reported as leaf-aligned ranges;
/// a changed size adds the missing or added tail.
pub fn locate(reader: &mut impl Read, tree: &ChunkTree) -> Result<LocateReport, TreeError> {
    let leaf = tree.leaf_size as usize;
    let block_leaves = (crate::digest::BLOCK_SIZE / leaf).max(1);
    let mut storage = Vec::new();
    let buf = crate::digest::aligned_buffer(&mut storage, block_leaves * leaf);
    let mut changed = Vec::new();
    let mut pos: u64 = 0;
    let mut index: u64 = 0;
    loop {
        let n = read_full(reader, buf)?;
        if n == 0 {
            break;
        }
        let cvs = leaf_cvs(index, tree.leaf_size, &buf[..n]);
        for (k, cv) in cvs.iter().enumerate() {
            let i = index + k as u64;
            let start = pos + (k * leaf) as u64;
            let end = start + leaf.min(n - k * leaf) as u64;
            let same =
                tree.leaves.get(i as usize) == Some(cv) && tree.leaf_range(i) == (start..end);
            if !same {
                push_range(&mut changed, start..end);
            }
        }
        pos += n as u64;
        index += cvs.len() as u64;
        if n < buf.len() {
            break;
        }
    }
    // Bytes the tree records that the file no longer has.
    push_range(&mut changed, pos..tree.size);
    Ok(LocateReport {
        ok: changed.is_empty() && pos == tree.size,
        size_expected: tree.size,
        size_actual: pos,
        truncated: pos < tree.size,
        extended: pos > tree.size,
        changed,
    })
}

/// Reads until `buf` is full or the input ends.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Verifies the bytes `range` of a file against a trusted BLAKE3 `root`,
/// reading only the leaves that cover the range and using the (untrusted)
/// tree for the rest. Returns `Ok(true)` when the range is intact.
pub fn verify_range(
    file: &mut (impl Read + Seek),
    tree: &ChunkTree,
    root: &[u8; 32],
    range: Range<u64>,
) -> Result<bool, TreeError> {
    if range.start > range.end || range.end > tree.size {
        return Err(TreeError::OutOfRange {
            range,
            size: tree.size,
        });
    }
    if tree.root != *root {
        return Err(TreeError::RootMismatch);
    }
    let n = leaf_count(tree.size, tree.leaf_size);
    if n < 2 {
        // One leaf: the root is the plain hash of the whole (small) file.
        let mut data = Vec::with_capacity(tree.size as usize);
        file.seek(SeekFrom::Start(0))?;
        file.take(tree.size).read_to_end(&mut data)?;
        return Ok(data.len() as u64 == tree.size && *blake3::hash(&data).as_bytes() == *root);
    }
    if !tree.is_consistent() {
        return Err(TreeError::RootMismatch);
    }
    if range.start == range.end {
        return Ok(true);
    }
    let leaf = tree.leaf_size as u64;
    let first = range.start / leaf;
    let last = (range.end - 1) / leaf;
    // Read the covering leaves a block at a time: memory stays bounded whatever the range.
    let per_block = ((crate::digest::BLOCK_SIZE as u64 / leaf).max(1)) as usize;
    let mut storage = Vec::new();
    let buf = crate::digest::aligned_buffer(&mut storage, per_block * leaf as usize);
    file.seek(SeekFrom::Start(first * leaf))?;
    let mut i = first;
    while i <= last {
        let leaves = ((last - i + 1) as usize).min(per_block);
        let want = (tree.leaf_range(i + leaves as u64 - 1).end - i * leaf) as usize;
        let got = read_full(file, &mut buf[..want])?;
        if got < want {
            return Ok(false);
        }
        let cvs = leaf_cvs(i, tree.leaf_size, &buf[..want]);
        if cvs
            .iter()
            .zip(&tree.leaves[i as usize..])
            .any(|(a, b)| a != b)
        {
            return Ok(false);
        }
        i += leaves as u64;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_equals_plain_blake3_at_boundaries() {
        for leaf in [1024u32, 4096, 65536] {
            for size in [
                0usize,
                1,
                1023,
                1024,
                1025,
                4095,
                4096,
                4097,
                65535,
                65536,
                65537,
                3 * 65536 + 7,
                17 * 4096,
            ] {
                let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
                let t = ChunkTree::of_bytes(&data, leaf);
                assert_eq!(
                    t.root,
                    *blake3::hash(&data).as_bytes(),
                    "leaf {leaf} size {size}"
                );
                assert_eq!(t.leaves.len() as u64, leaf_count(size as u64, leaf));
                assert!(t.is_consistent());
                assert_eq!(ChunkTree::decode(&t.encode()).unwrap(), t);
            }
        }
    }

    #[test]
    fn decode_rejects_damage() {
        let t = ChunkTree::of_bytes(&[7u8; 300_000], 65536);
        let e = t.encode();
        assert!(ChunkTree::decode(&e[..e.len() - 1]).is_err());
        let mut bad = e.clone();
        bad[10] = 40;
        assert!(ChunkTree::decode(&bad).is_err());
        let mut bad = e.clone();
        bad[24] = 99;
        assert!(ChunkTree::decode(&bad).is_err());
        let mut bad = e;
        bad[100] ^= 1;
        assert!(!ChunkTree::decode(&bad).unwrap().is_consistent());
    }
}

//! File digests in one pass: BLAKE3 (with its chunk tree), SHA-256 and
//! optionally MD5, each on its own thread, fed from one read of the file.
//!
//! The reader fills 4 MiB blocks from a small pool (16 MiB in all) and hands
//! each block to every hash worker; the BLAKE3 worker hashes the block's
//! leaves in parallel with rayon, SHA-256 and MD5 run sequentially on their
//! own threads. A block returns to the pool when the last worker drops it.

use crate::tree::{ChunkTree, DEFAULT_LEAF_SIZE, leaf_cvs, root_of};
use crossbeam_channel::{Receiver, Sender, bounded};
use md5::Digest as _;
use std::io::Read;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes per block handed to the hash workers.
pub const BLOCK_SIZE: usize = 4 << 20;
const POOL_BLOCKS: usize = 4;

/// Which digests to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    /// BLAKE3 (and its chunk tree).
    pub blake3: bool,
    /// SHA-256.
    pub sha256: bool,
    /// MD5 (some recorders report it; record it, never rely on it).
    pub md5: bool,
}

impl Algorithms {
    /// BLAKE3 and SHA-256.
    pub const BOTH: Algorithms = Algorithms {
        blake3: true,
        sha256: true,
        md5: false,
    };
    /// BLAKE3, SHA-256 and MD5.
    pub const ALL: Algorithms = Algorithms {
        blake3: true,
        sha256: true,
        md5: true,
    };
    /// BLAKE3 only.
    pub const BLAKE3: Algorithms = Algorithms {
        blake3: true,
        sha256: false,
        md5: false,
    };
    /// SHA-256 only.
    pub const SHA256: Algorithms = Algorithms {
        blake3: false,
        sha256: true,
        md5: false,
    };
}

impl Default for Algorithms {
    fn default() -> Self {
        Algorithms::BOTH
    }
}

/// Digest options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestOptions {
    /// Digests to compute.
    pub algorithms: Algorithms,
    /// Chunk-tree leaf size (a power of two, 1 KiB to 16 MiB).
    pub leaf_size: u32,
}

impl DigestOptions {
    /// Checks the leaf size (a power of two from 1 KiB to 16 MiB).
    pub fn check(&self) -> Result<(), crate::TreeError> {
        if crate::tree::valid_leaf_size(self.leaf_size) {
            Ok(())
        } else {
            Err(crate::TreeError::LeafSize(self.leaf_size))
        }
    }
}

impl Default for DigestOptions {
    fn default() -> Self {
        DigestOptions {
            algorithms: Algorithms::BOTH,
            leaf_size: DEFAULT_LEAF_SIZE,
        }
    }
}

/// The digests of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 hash (identical to `b3sum`).
    pub blake3: Option<[u8; 32]>,
    /// SHA-256.
    pub sha256: Option<[u8; 32]>,
    /// MD5.
    pub md5: Option<[u8; 16]>,
}

impl FileDigest {
    /// BLAKE3 as lowercase hex.
    pub fn blake3_hex(&self) -> Option<String> {
        self.blake3.map(|h| crate::tree::hex(&h))
    }
    /// SHA-256 as lowercase hex.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(|h| crate::tree::hex(&h))
    }
    /// MD5 as lowercase hex.
    pub fn md5_hex(&self) -> Option<String> {
        self.md5.map(|h| crate::tree::hex(&h))
    }
}

struct Block {
    data: Vec<u8>,
    len: usize,
}

impl Block {
    fn bytes(&self) -> &[u8] {
        &self.data[window(&self.data)][..self.len]
    }
    fn spare(&mut self) -> &mut [u8] {
        let w = window(&self.data);
        &mut self.data[w][self.len..]
    }
}

enum Output {
    Blake3(ChunkTree),
    Sha256([u8; 32]),
    Md5([u8; 16]),
}

/// Streaming digests: push bytes in (or let it read a reader), get digests
/// and the chunk tree out. The same bytes give the same results however
/// they are split.
pub struct Digester {
    current: Option<Block>,
    size: u64,
    pool_tx: Sender<Vec<u8>>,
    pool_rx: Receiver<Vec<u8>>,
    allocated: usize,
    workers: Vec<(Sender<Arc<Block>>, JoinHandle<Output>)>,
}

/// Threads BLAKE3 may use: all cores when it hashes alone; otherwise the cores
/// left after one each for SHA-256 and MD5 (at least one), so the sequential
/// hashes, the pace-setters, never wait for a core.
fn blake3_threads(a: Algorithms) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores
        .saturating_sub(a.sha256 as usize + a.md5 as usize)
        .max(1)
}

/// Leaf chaining values, on `pool` when there is one, else on this thread.
fn leaves_on(
    pool: Option<&rayon::ThreadPool>,
    first: u64,
    leaf: u32,
    data: &[u8],
) -> Vec<blake3::hazmat::ChainingValue> {
    match pool {
        Some(p) => p.install(|| leaf_cvs(first, leaf, data)),
        None => data
            .chunks(leaf as usize)
            .enumerate()
            .map(|(i, c)| crate::tree::leaf_cv(first + i as u64, leaf, c))
            .collect(),
    }
}

/// A rayon pool of `n` threads, or none for one thread.
fn pool_of(n: usize) -> Option<rayon::ThreadPool> {
    (n > 1)
        .then(|| rayon::ThreadPoolBuilder::new().num_threads(n).build().ok())
        .flatten()
}

/// A new block buffer with room to start its data on a 4 KiB boundary.
fn fresh_block() -> Vec<u8> {
    vec![0u8; BLOCK_SIZE + ALIGN]
}

/// Block data starts on this boundary: measured, `read()` into a buffer that
/// starts 16 bytes into a page (as large allocations do) made a streamed pass
/// up to twice as slow as into an aligned one.
const ALIGN: usize = 4096;

/// Allocates `len` bytes in `storage` and returns them starting on an
/// [`ALIGN`] boundary (see there for why).
pub(crate) fn aligned_buffer(storage: &mut Vec<u8>, len: usize) -> &mut [u8] {
    *storage = vec![0u8; len + ALIGN];
    let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
    &mut storage[start..start + len]
}

/// The aligned window of a block buffer.
fn window(v: &[u8]) -> std::ops::Range<usize> {
    let start = v.as_ptr().align_offset(ALIGN).min(ALIGN);
    start..start + BLOCK_SIZE
}

fn recycle(block: Arc<Block>, pool: &Sender<Vec<u8>>) {
    if let Some(b) = Arc::into_inner(block) {
        let _ = pool.try_send(b.data);
    }
}

impl Digester {
    /// Starts the hash workers.
    pub fn new(opts: DigestOptions) -> Result<Digester, crate::TreeError> {
        opts.check()?;
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(POOL_BLOCKS);
        let mut workers = Vec::new();
        let a = opts.algorithms;
        if a.blake3 {
            let (tx, rx) = bounded::<Arc<Block>>(POOL_BLOCKS);
            let pool = pool_tx.clone();
            let leaf = opts.leaf_size;
            let threads = blake3_threads(a);
            let h = std::thread::spawn(move || {
                let workers = pool_of(threads);
                let mut leaves = Vec::new();
                let mut size = 0u64;
                // While the file fits in one leaf, its root is the plain hash of its bytes.
                let mut head: Option<Arc<Block>> = None;
                for blk in rx {
                    let cvs = leaves_on(workers.as_ref(), leaves.len() as u64, leaf, blk.bytes());
                    leaves.extend(cvs);
                    size += blk.len as u64;
                    if leaves.len() <= 1 {
                        head = Some(blk.clone());
                    } else {
                        head = None;
                    }
                    recycle(blk, &pool);
                }
                let root = match root_of(&leaves) {
                    Some(r) => r,
                    None => *blake3::hash(head.as_ref().map_or(&[][..], |b| b.bytes())).as_bytes(),
                };
                Output::Blake3(ChunkTree {
                    leaf_size: leaf,
                    size,
                    leaves,
                    root,
                })
            });
            workers.push((tx, h));
        }
        if a.sha256 {
            let (tx, rx) = bounded::<Arc<Block>>(POOL_BLOCKS);
            let pool = pool_tx.clone();
            let h = std::thread::spawn(move || {
                let mut h = sha2::Sha256::new();
                for blk in rx {
                    h.update(blk.bytes());
                    recycle(blk, &pool);
                }
                Output::Sha256(h.finalize().into())
            });
            workers.push((tx, h));
        }
        if a.md5 {
            let (tx, rx) = bounded::<Arc<Block>>(POOL_BLOCKS);
            let pool = pool_tx.clone();
            let h = std::thread::spawn(move || {
                let mut h = md5::Md5::new();
                for blk in rx {
                    h.update(blk.bytes());
                    recycle(blk, &pool);
                }
                Output::Md5(h.finalize().into())
            });
            workers.push((tx, h));
        }
        Ok(Digester {
            current: None,
            size: 0,
            pool_tx,
            pool_rx,
            allocated: 0,
            workers,
        })
    }

    fn take_block(&mut self) -> Block {
        let data = match self.pool_rx.try_recv() {
            Ok(d) => d,
            Err(_) if self.allocated < POOL_BLOCKS + 1 => {
                self.allocated += 1;
                fresh_block()
            }
            // All blocks are in flight: wait for one to come back. A block kept by a
            // worker (a file of one leaf) is never returned, so allocate past that.
            Err(_) => self
                .pool_rx
                .recv_timeout(std::time::Duration::from_secs(5))
                .unwrap_or_else(|_| fresh_block()),
        };
        Block { data, len: 0 }
    }

    fn dispatch(&mut self, block: Block) {
        if block.len == 0 {
            let _ = self.pool_tx.try_send(block.data);
            return;
        }
        let block = Arc::new(block);
        for (tx, _) in &self.workers {
            // A worker only stops early by panicking, which finish() reports.
            let _ = tx.send(block.clone());
        }
        recycle(block, &self.pool_tx);
    }

    /// Adds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let mut b = match self.current.take() {
                Some(b) => b,
                None => self.take_block(),
            };
            let n = (BLOCK_SIZE - b.len).min(data.len());
            b.spare()[..n].copy_from_slice(&data[..n]);
            b.len += n;
            self.size += n as u64;
            data = &data[n..];
            if b.len == BLOCK_SIZE {
                self.dispatch(b);
            } else {
                self.current = Some(b);
            }
        }
    }

    /// Reads `r` to its end, calling `progress` with the bytes read so far.
    pub fn read_from(
        &mut self,
        r: &mut impl Read,
        mut progress: impl FnMut(u64),
    ) -> std::io::Result<u64> {
        let start = self.size;
        loop {
            let mut b = match self.current.take() {
                Some(b) => b,
                None => self.take_block(),
            };
            let n = crate::tree::read_full(r, b.spare())?;
            b.len += n;
            self.size += n as u64;
            let full = b.len == BLOCK_SIZE;
            if full {
                self.dispatch(b);
            } else {
                self.current = Some(b);
            }
            progress(self.size);
            if !full {
                return Ok(self.size - start);
            }
        }
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finishes: the digests, and the chunk tree when BLAKE3 was computed.
    pub fn finish(mut self) -> (FileDigest, Option<ChunkTree>) {
        if let Some(b) = self.current.take() {
            self.dispatch(b);
        }
        let mut d = FileDigest {
            size: self.size,
            blake3: None,
            sha256: None,
            md5: None,
        };
        let mut tree = None;
        for (tx, h) in std::mem::take(&mut self.workers) {
            drop(tx);
            match h.join() {
                Ok(Output::Blake3(t)) => {
                    d.blake3 = Some(t.root);
                    tree = Some(t);
                }
                Ok(Output::Sha256(s)) => d.sha256 = Some(s),
                Ok(Output::Md5(m)) => d.md5 = Some(m),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        (d, tree)
    }
}

/// Digests everything `r` yields, in one pass.
pub fn hash_reader(
    r: &mut impl Read,
    opts: DigestOptions,
    progress: impl FnMut(u64),
) -> std::io::Result<(FileDigest, Option<ChunkTree>)> {
    let mut d = Digester::new(opts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    d.read_from(r, progress)?;
    Ok(d.finish())
}

/// Digests a file, opened read-only. With [`custody_io::ReadMode::Auto`] a
/// large file on a fixed disk is memory-mapped (faster on the machines we
/// measure: no copy through a buffer) and anything else is streamed with
/// `read()`; [`custody_io::ReadMode::Read`] always streams (use it for recorder
/// media). `progress` is called with the bytes hashed so far when streaming.
pub fn hash_file(
    path: &std::path::Path,
    opts: DigestOptions,
    mode: custody_io::ReadMode,
    progress: impl FnMut(u64),
) -> std::io::Result<(FileDigest, Option<ChunkTree>)> {
    let mut f = custody_io::open_regular(path)?;
    let len = f.metadata()?.len();
    let map = match mode {
        custody_io::ReadMode::Map => true,
        custody_io::ReadMode::Read => false,
        custody_io::ReadMode::Auto => custody_io::map_is_safe(path, len),
    };
    if map && len > 0 {
        let ev = custody_io::Evidence::open(path, custody_io::ReadMode::Map)?;
        return hash_bytes(ev.bytes(), opts)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()));
    }
    hash_reader(&mut f, opts, progress)
}

/// Digests bytes already in memory (or memory-mapped): BLAKE3 leaves in
/// parallel while SHA-256 and MD5 run on their own threads.
pub fn hash_bytes(
    data: &[u8],
    opts: DigestOptions,
) -> Result<(FileDigest, Option<ChunkTree>), crate::TreeError> {
    opts.check()?;
    let a = opts.algorithms;
    std::thread::scope(|s| {
        let sha = a
            .sha256
            .then(|| s.spawn(|| -> [u8; 32] { sha2::Sha256::digest(data).into() }));
        let md5 = a
            .md5
            .then(|| s.spawn(|| -> [u8; 16] { md5::Md5::digest(data).into() }));
        let tree = a.blake3.then(|| {
            let leaves = if data.is_empty() {
                Vec::new()
            } else {
                leaves_on(pool_of(blake3_threads(a)).as_ref(), 0, opts.leaf_size, data)
            };
            let root = root_of(&leaves).unwrap_or_else(|| *blake3::hash(data).as_bytes());
            ChunkTree {
                leaf_size: opts.leaf_size,
                size: data.len() as u64,
                leaves,
                root,
            }
        });
        let d = FileDigest {
            size: data.len() as u64,
            blake3: tree.as_ref().map(|t| t.root),
            sha256: sha.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            md5: md5.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
        };
        Ok((d, tree))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
            .collect()
    }

    #[test]
    fn streaming_equals_one_shot_however_split() {
        let d = data(BLOCK_SIZE * 2 + 12_345);
        let expect_b3 = *blake3::hash(&d).as_bytes();
        let expect_sha: [u8; 32] = sha2::Sha256::digest(&d).into();
        for split in [
            1usize,
            1000,
            65_536,
            BLOCK_SIZE - 1,
            BLOCK_SIZE,
            BLOCK_SIZE + 1,
        ] {
            let mut g = Digester::new(DigestOptions {
                algorithms: Algorithms::ALL,
                ..Default::default()
            })
            .unwrap();
            for c in d.chunks(split) {
                g.update(c);
            }
            let (fd, tree) = g.finish();
            assert_eq!(fd.blake3, Some(expect_b3), "split {split}");
            assert_eq!(fd.sha256, Some(expect_sha));
            assert_eq!(fd.size, d.len() as u64);
            assert_eq!(tree.unwrap(), ChunkTree::of_bytes(&d, DEFAULT_LEAF_SIZE));
        }
        let (fd, _) = hash_reader(&mut &d[..], DigestOptions::default(), |_| {}).unwrap();
        assert_eq!(fd.blake3, Some(expect_b3));
        let (fd, _) = hash_bytes(
            &d,
            DigestOptions {
                algorithms: Algorithms::ALL,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((fd.blake3, fd.sha256), (Some(expect_b3), Some(expect_sha)));
    }

    #[test]
    fn a_bad_leaf_size_is_an_error_not_a_panic() {
        let opts = DigestOptions {
            leaf_size: 1000,
            ..Default::default()
        };
        assert!(matches!(
            Digester::new(opts),
            Err(crate::TreeError::LeafSize(1000))
        ));
        assert!(matches!(
            hash_bytes(b"x", opts),
            Err(crate::TreeError::LeafSize(1000))
        ));
        let e = hash_reader(&mut &b"x"[..], opts, |_| {}).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn small_and_empty_inputs() {
        for n in [0usize, 1, 1023, 1024, 1025, 65_535, 65_536, 65_537] {
            let d = data(n);
            let (fd, tree) = hash_reader(&mut &d[..], DigestOptions::default(), |_| {}).unwrap();
            assert_eq!(fd.blake3, Some(*blake3::hash(&d).as_bytes()), "size {n}");
            assert_eq!(
                tree.unwrap().leaves.len() as u64,
                crate::tree::leaf_count(n as u64, DEFAULT_LEAF_SIZE)
            );
        }
    }
}

//! Early writeback of an output being written: a thread flushes the file's
//! data to storage every [`STEP`] bytes, and once more when the writer is
//! done, so the fsync that commits the output finds little left to write
//! and the storage works while the job encodes, muxes and proves.
//!
//! This only moves work earlier: the commit still fsyncs the file and its
//! folder before the output counts as written.

use std::fs::File;
use std::path::Path;

/// Bytes written between two flushes.
pub(crate) const STEP: u64 = 8 << 20;

/// The flushing thread of one output file.
pub(crate) struct Writeback {
    wake: Option<crossbeam_channel::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
    pending: u64,
}

impl Writeback {
    /// Starts flushing the file at `path` (already created by the muxer).
    /// Without a thread or the file, nothing is flushed early, which costs
    /// only time.
    pub(crate) fn start(path: &Path) -> Writeback {
        let idle = Writeback {
            wake: None,
            handle: None,
            pending: 0,
        };
        let Ok(file) = File::open(path) else {
            return idle;
        };
        // One wake-up waiting at most: flushes requested while one runs
        // are served by the next.
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let spawned = std::thread::Builder::new()
            .name("custody-writeback".into())
            .spawn(move || {
                for () in rx {
                    if file.sync_data().is_err() {
                        // The commit's fsync reports the failure.
                        return;
                    }
                }
            });
        match spawned {
            Ok(h) => Writeback {
                wake: Some(tx),
                handle: Some(h),
                pending: 0,
            },
            Err(_) => idle,
        }
    }

    /// `bytes` more were handed to the muxer.
    pub(crate) fn wrote(&mut self, bytes: u64) {
        self.pending += bytes;
        if self.pending >= STEP {
            self.pending = 0;
            if let Some(w) = &self.wake {
                let _ = w.try_send(());
            }
        }
    }

    /// The file is complete: one last flush, not waited for.
    pub(crate) fn done(&mut self) {
        if let Some(w) = self.wake.take() {
            // When a flush is already queued, it has not started yet and
            // will cover everything written.
            let _ = w.try_send(());
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

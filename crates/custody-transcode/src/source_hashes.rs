//! The originals' packets hashed on another thread while a stream copy reads
//! them, in the canonical form of [`crate::canon`]: the packet proof then
//! reads back only the output, not the originals a second time.
//!
//! The copy hands over a reference to each packet it reads (no copy of the
//! bytes) through a bounded queue, so the reader is never more than
//! [`QUEUE`] packets ahead of the hasher.

use crate::canon::Form;
use crate::ffi;
use crate::proof::SourcePackets;
use crate::source::Input;
use ffmpeg_next as ffmpeg;

/// Packets in flight between the reader and the hasher, at most.
pub(crate) const QUEUE: usize = 256;

enum Msg {
    /// The next original begins; the canonical form of each of its streams.
    Source(Vec<Form>),
    /// A packet of the current original, as read.
    Packet(ffmpeg::Packet),
}

/// Per original, in the order read: (stream, canonical hash) of each packet.
type Hashes = Vec<Vec<(u32, [u8; 32])>>;

/// A hashing thread fed by a copy's reader.
pub(crate) struct SourceHasher {
    tx: Option<crossbeam_channel::Sender<Msg>>,
    handle: Option<std::thread::JoinHandle<Hashes>>,
    kinds: Vec<ffmpeg::media::Type>,
    /// False once a packet could not be handed over: no recording then.
    whole: bool,
}

impl SourceHasher {
    /// Starts hashing for a copy whose first original is `first`; `None`
    /// when one of its streams is raw PCM (proven as one byte stream, which
    /// the proof takes from the original itself).
    pub(crate) fn start(first: &Input) -> Option<SourceHasher> {
        if forms(first).contains(&Form::Pcm) {
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded::<Msg>(QUEUE);
        let handle = std::thread::Builder::new()
            .name("custody-source-hash".into())
            .spawn(move || {
                let mut out: Hashes = Vec::new();
                let mut forms: Vec<Form> = Vec::new();
                for m in rx {
                    match m {
                        Msg::Source(f) => {
                            forms = f;
                            out.push(Vec::new());
                        }
                        Msg::Packet(p) => {
                            let s = p.stream();
                            let form = forms.get(s).copied().unwrap_or(Form::Bytes);
                            let h = form.hash(p.data().unwrap_or(&[]));
                            if let Some(v) = out.last_mut() {
                                v.push((s as u32, h));
                            }
                        }
                    }
                }
                out
            })
            .ok()?;
        Some(SourceHasher {
            tx: Some(tx),
            handle: Some(handle),
            kinds: first
                .ctx
                .streams()
                .map(|s| s.parameters().medium())
                .collect(),
            whole: true,
        })
    }

    /// The next original begins (the first one included).
    pub(crate) fn source(&mut self, input: &Input) {
        let f = forms(input);
        if f.contains(&Form::Pcm) {
            self.whole = false;
        }
        self.send(Msg::Source(f));
    }

    /// A packet just read from the current original.
    pub(crate) fn packet(&mut self, p: &ffmpeg::Packet) {
        match ffi::packet_ref(p) {
            Some(r) => self.send(Msg::Packet(r)),
            None => self.whole = false,
        }
    }

    fn send(&mut self, m: Msg) {
        if !self.whole {
            return;
        }
        if let Some(tx) = &self.tx
            && tx.send(m).is_err()
        {
            self.whole = false;
        }
    }

    /// Waits for the hasher and returns every packet's hash; `None` if any
    /// packet was missed (the proof then reads the originals itself).
    pub(crate) fn finish(mut self) -> Option<SourcePackets> {
        self.tx = None;
        let packets = self.handle.take()?.join().ok()?;
        self.whole.then(|| SourcePackets {
            kinds: std::mem::take(&mut self.kinds),
            packets,
        })
    }
}

impl Drop for SourceHasher {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has drained it.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The canonical form of each stream of `input`.
fn forms(input: &Input) -> Vec<Form> {
    input
        .ctx
        .streams()
        .map(|s| {
            let par = s.parameters();
            Form::of(par.id(), &ffi::params(&par).extradata)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gops::tests::clip;
    use crate::proof::{prove, prove_against};
    use crate::{Options, Profile, archive};

    #[test]
    fn hashes_taken_while_reading_prove_as_a_second_reading_does_and_catch_changes() {
        let dir = tempfile::tempdir().unwrap();
        let src = clip(dir.path(), 2, 15);
        let out = dir.path().join("r.mkv");
        let opts = Options {
            profile: Profile::RemuxMkv,
            prove: false,
            ..Default::default()
        };
        archive(&[&src], &out, &opts, |_| true).unwrap();
        // Hashed as the copy reads.
        let mut inp = Input::open(&src).unwrap();
        let mut h = SourceHasher::start(&inp).unwrap();
        h.source(&inp);
        while let Some((p, _)) = inp.next().unwrap() {
            h.packet(&p);
        }
        let rec = h.finish().unwrap();
        assert_eq!(rec.packets.len(), 1);
        assert_eq!(rec.packets[0].len() as u64, inp.counts.iter().sum::<u64>());

        let sources = [src.clone()];
        let reread = prove(&sources, &out, None, true, &mut |_| true).unwrap();
        let recorded =
            prove_against(&sources, &out, None, true, Some(rec.clone()), &mut |_| true).unwrap();
        assert!(recorded.ok);
        assert_eq!(recorded, reread);

        // One original packet that differs: the output no longer matches.
        let mut changed = rec.clone();
        changed.packets[0][7].1[0] ^= 1;
        let p = prove_against(&sources, &out, None, true, Some(changed), &mut |_| true).unwrap();
        assert!(!p.ok);
        assert_eq!(p.unmatched.len(), 1);
        // One original packet missing: the output holds more than the original.
        let mut short = rec;
        short.packets[0].pop();
        let p = prove_against(&sources, &out, None, true, Some(short), &mut |_| true).unwrap();
        assert!(!p.ok);
    }
}

//! Derivatives registered with signed provenance (docs/FORMAT.md §10): the
//! link from derivative to source, idempotence, derivatives of derivatives,
//! typed refusals that leave the store untouched, version 1 manifests still
//! verifying, and every broken link named alike by `verify` and by the
//! third-party verifier (tests/third_party/verify_store.py).

use custody_evidence::derive::{DeriveError, DeriveOptions, Outcome, register};
use custody_evidence::ingest::{IngestOptions, ingest};
use custody_evidence::keys::StationKey;
use custody_evidence::manifest::{
    Derivation, DerivationProof, ProofTrack, SCHEMA_V1, SignedManifest, Software,
};
use custody_evidence::store::DirStore;
use custody_evidence::verify::{VerifyReport, verify_store};
use custody_testkit::mp4::synthetic_recording;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A store holding two ingested recordings, with its key.
struct Fixture {
    dir: tempfile::TempDir,
    store: DirStore,
    key: StationKey,
    /// BLAKE3 of the two recordings, in file-name order.
    sources: Vec<String>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("rec/DCIM");
        std::fs::create_dir_all(&rec).unwrap();
        std::fs::write(
            rec.join("SN77_4242_20261129083001_0001.MP4"),
            synthetic_recording(2, 10, 5),
        )
        .unwrap();
        std::fs::write(
            rec.join("SN77_4242_20261129083003_0002.MP4"),
            synthetic_recording(3, 10, 5),
        )
        .unwrap();
        let store = DirStore::open(&dir.path().join("store")).unwrap();
        let key = StationKey::generate().unwrap();
        let opts = IngestOptions {
            station: "st-1".into(),
            settle: Default::default(),
            ..Default::default()
        };
        let r = ingest(&dir.path().join("rec"), &store, &key, &opts).unwrap();
        let mut items: Vec<_> = r.items.iter().collect();
        items.sort_by(|a, b| a.path.cmp(&b.path));
        let sources = items.iter().map(|i| i.blake3.clone().unwrap()).collect();
        Fixture {
            dir,
            store,
            key,
            sources,
        }
    }

    /// A derivative file named `name` holding `bytes`.
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn register(
        &self,
        file: &Path,
        sources: &[String],
    ) -> Result<custody_evidence::derive::Registration, DeriveError> {
        register(
            &self.store,
            &self.key,
            file,
            None,
            derivation(sources),
            &DeriveOptions {
                station: "st-1".into(),
                operator: Some("op".into()),
            },
        )
    }

    fn verify(&self) -> VerifyReport {
        verify_store(&self.store, &self.key.public(), None).unwrap()
    }

    fn log_lines(&self) -> usize {
        std::fs::read_to_string(self.store.root().join("custody.log"))
            .unwrap()
            .lines()
            .count()
    }

    /// Every file of the store, with its bytes.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.store.root().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if e.file_name() != "catalog.sqlite" {
                    out.push((e.path(), std::fs::read(e.path()).unwrap()));
                }
            }
        }
        out.sort();
        out
    }
}

fn derivation(sources: &[String]) -> Derivation {
    Derivation {
        sources: sources.to_vec(),
        profile: "preservation".into(),
        parameters: [("slices".to_string(), "16".to_string())].into(),
        software: Software {
            tool: "custody-transcode 0.1.0".into(),
            ffmpeg: "libavcodec 59.37.100".into(),
        },
        proof: DerivationProof {
            kind: "frames".into(),
            result: "identical".into(),
            tracks: vec![ProofTrack {
                output_stream: 0,
                kind: "video".into(),
                unit: "frames".into(),
                source_units: Some(20),
                output_units: 20,
                matched: 20,
                coverage: vec![],
            }],
        },
    }
}

fn names(list: &[custody_evidence::finding::Finding]) -> BTreeSet<&'static str> {
    list.iter().map(|f| f.name).collect()
}

/// The third-party verifier's failure names, when its Python is installed
/// (scripts/setup.sh; `CUSTODY_REQUIRE_TOOLS` makes it mandatory).
fn third_party(store: &Path, key: &StationKey) -> Option<(bool, BTreeSet<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("CUSTODY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/pyenv/bin/python3"));
    if !python.is_file() {
        assert!(
            std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
            "the third-party verifier needs {} (scripts/setup.sh makes it)",
            python.display()
        );
        eprintln!(
            "note: no {}: the third-party verifier is not run",
            python.display()
        );
        return None;
    }
    let o = std::process::Command::new(python)
        .arg(root.join("tests/third_party/verify_store.py"))
        .arg(store)
        .args(["--public-key", &key.public_hex()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let failures = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    Some((v["ok"] == true, failures))
}

/// Both verifiers agree on the failures of the fixture's store.
#[track_caller]
fn both(fx: &Fixture, expected: &[&str]) -> VerifyReport {
    let r = fx.verify();
    let want: BTreeSet<&str> = expected.iter().copied().collect();
    assert_eq!(names(&r.failures), want, "{:#?}", r.failures);
    assert_eq!(r.ok, expected.is_empty());
    if let Some((ok, failures)) = third_party(fx.store.root(), &fx.key) {
        let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(failures, want, "third-party verifier");
        assert_eq!(ok, expected.is_empty());
    }
    r
}

#[test]
fn a_derivative_is_registered_with_its_link_and_verifies() {
    let fx = Fixture::new();
    let before = fx.log_lines();
    let copy = fx.file("CLIP.preservation.mkv", b"a preservation master");
    let r = fx.register(&copy, &fx.sources[..1]).unwrap();
    assert_eq!(r.outcome, Outcome::Registered);
    assert_eq!(
        r.blake3,
        blake3::hash(b"a preservation master").to_hex().as_str()
    );
    assert_eq!(fx.log_lines(), before + 1);
    // Its own read-only object, a signed version 2 manifest naming the source.
    let obj = fx.store.object_path(&r.blake3);
    assert_eq!(std::fs::read(&obj).unwrap(), b"a preservation master");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&obj).unwrap().permissions().mode() & 0o222,
            0
        );
    }
    let bytes = fx.store.manifest_bytes(&r.blake3).unwrap();
    let trust = custody_evidence::keyring::trust_store(&fx.store, &[fx.key.public()])
        .unwrap()
        .0;
    let m = SignedManifest::verify_json(&bytes, &trust)
        .unwrap()
        .manifest;
    assert_eq!(m.schema, custody_evidence::manifest::SCHEMA);
    assert_eq!(m.derivation, Some(derivation(&fx.sources[..1])));
    assert!(m.derived.is_none());
    // The recording is the source's; the source's manifest is unchanged.
    let src =
        SignedManifest::verify_json(&fx.store.manifest_bytes(&fx.sources[0]).unwrap(), &trust)
            .unwrap()
            .manifest;
    assert_eq!(m.recording, src.recording);
    assert!(src.derivation.is_none());
    // The log entry names the sources and the profile.
    let log = std::fs::read_to_string(fx.store.root().join("custody.log")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["event"], "derivation");
    assert_eq!(entry["object"], r.blake3.as_str());
    assert_eq!(entry["details"]["sources"][0], fx.sources[0].as_str());
    assert_eq!(r.seq, entry["seq"].as_u64());
    let v = both(&fx, &[]);
    assert_eq!((v.derivations_checked, v.objects_checked), (1, 3));
    // Supervision leaves the derivative out: it is not a segment of its own.
    let rep = custody_evidence::report::report(&fx.store, &Default::default(), &trust).unwrap();
    let segments: usize = rep
        .devices
        .iter()
        .flat_map(|d| &d.recordings)
        .map(|r| r.segments.len())
        .sum();
    assert_eq!(segments, 2, "{rep:#?}");
}

#[test]
fn the_same_output_twice_is_already_registered_and_writes_nothing() {
    let fx = Fixture::new();
    let copy = fx.file("CLIP.mkv", b"remuxed");
    assert_eq!(
        fx.register(&copy, &fx.sources[..1]).unwrap().outcome,
        Outcome::Registered
    );
    let before = fx.snapshot();
    let again = fx.register(&copy, &fx.sources[..1]).unwrap();
    assert_eq!(
        (again.outcome, again.seq),
        (Outcome::AlreadyRegistered, None)
    );
    assert_eq!(fx.snapshot(), before);
    // A copy of an ingested original's bytes is that original: nothing new.
    let same = fx.file(
        "same.mp4",
        &std::fs::read(fx.store.object_path(&fx.sources[1])).unwrap(),
    );
    assert_eq!(
        fx.register(&same, &fx.sources[..1]).unwrap().outcome,
        Outcome::AlreadyRegistered
    );
    assert_eq!(fx.snapshot(), before);
}

#[test]
fn a_derivative_of_a_derivative_and_a_join_verify() {
    let fx = Fixture::new();
    let joined = fx.file("joined.mkv", b"both segments");
    let j = fx.register(&joined, &fx.sources).unwrap();
    let access = fx.file("joined.access.mp4", b"access copy of the join");
    let a = fx
        .register(&access, std::slice::from_ref(&j.blake3))
        .unwrap();
    assert_eq!(a.outcome, Outcome::Registered);
    let v = both(&fx, &[]);
    assert_eq!(v.derivations_checked, 2);
}

#[test]
fn refusals_are_typed_and_leave_the_store_untouched() {
    let fx = Fixture::new();
    let copy = fx.file("CLIP.mkv", b"remuxed");
    let before = fx.snapshot();
    let unknown = blake3::hash(b"never ingested").to_hex().to_string();
    match fx.register(&copy, std::slice::from_ref(&unknown)) {
        Err(DeriveError::SourceNotRegistered { source_blake3 }) => {
            assert_eq!(source_blake3, unknown)
        }
        other => panic!("{other:?}"),
    }
    match fx.register(&copy, &["not hex".to_string()]) {
        Err(DeriveError::Invalid(m)) => assert!(m.contains("not a BLAKE3"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut failed = derivation(&fx.sources[..1]);
    failed.proof.result = "failed".into();
    let r = register(&fx.store, &fx.key, &copy, None, failed, &Default::default());
    assert!(matches!(r, Err(DeriveError::Invalid(_))), "{r:?}");
    // A key the store does not know.
    let stranger = StationKey::generate().unwrap();
    let r = register(
        &fx.store,
        &stranger,
        &copy,
        None,
        derivation(&fx.sources[..1]),
        &Default::default(),
    );
    assert!(matches!(r, Err(DeriveError::KeyNotInStore(_))), "{r:?}");
    // Bytes that are not those the maker reported.
    let r = register(
        &fx.store,
        &fx.key,
        &copy,
        Some(&unknown),
        derivation(&fx.sources[..1]),
        &Default::default(),
    );
    assert!(matches!(r, Err(DeriveError::Changed { .. })), "{r:?}");
    // A missing derivative.
    let r = fx.register(&fx.dir.path().join("nothing.mkv"), &fx.sources[..1]);
    assert!(matches!(r, Err(DeriveError::Store { .. })), "{r:?}");
    assert_eq!(fx.snapshot(), before);
    assert_eq!(
        std::fs::read_dir(fx.store.root().join("tmp"))
            .unwrap()
            .count(),
        0
    );
}

/// Signs `m` again with the fixture's key and stores it under `h`.
fn resign(fx: &Fixture, h: &str, edit: impl FnOnce(&mut custody_evidence::manifest::Manifest)) {
    let trust = custody_evidence::keyring::trust_store(&fx.store, &[fx.key.public()])
        .unwrap()
        .0;
    let mut m = SignedManifest::verify_json(&fx.store.manifest_bytes(h).unwrap(), &trust)
        .unwrap()
        .manifest;
    edit(&mut m);
    let path = fx.store.root().join(format!("manifests/{h}.json"));
    std::fs::write(path, m.sign(&fx.key).unwrap().to_bytes().unwrap()).unwrap();
}

#[test]
fn broken_links_are_named_by_both_verifiers() {
    // A derivative manifest edited after signing.
    let fx = Fixture::new();
    let d = fx
        .register(&fx.file("a.mkv", b"derivative"), &fx.sources[..1])
        .unwrap();
    let path = fx.store.root().join(format!("manifests/{}.json", d.blake3));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"preservation\"", "\"access\"")).unwrap();
    both(&fx, &["manifest_signature"]);

    // The source's registration removed: the derivation's source is missing.
    let fx = Fixture::new();
    let d = fx
        .register(&fx.file("a.mkv", b"derivative"), &fx.sources[..1])
        .unwrap();
    let s = &fx.sources[0];
    std::fs::remove_file(fx.store.root().join(format!("manifests/{s}.json"))).unwrap();
    std::fs::remove_file(fx.store.object_path(s)).unwrap();
    let r = both(
        &fx,
        &[
            "registration_missing",
            "catalog_mismatch",
            "derivation_source_missing",
        ],
    );
    let f = r
        .failures
        .iter()
        .find(|f| f.name == "derivation_source_missing")
        .unwrap();
    assert_eq!(f.object.as_deref(), Some(d.blake3.as_str()));

    // The source's manifest edited: the link is to an unverified source.
    let fx = Fixture::new();
    fx.register(&fx.file("a.mkv", b"derivative"), &fx.sources[..1])
        .unwrap();
    let p = fx
        .store
        .root()
        .join(format!("manifests/{}.json", fx.sources[0]));
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("\"st-1\"", "\"st-2\"")).unwrap();
    both(&fx, &["manifest_signature", "derivation_source_unverified"]);

    // A manifest re-signed by the station's key that names another source
    // than its log entry.
    let fx = Fixture::new();
    let d = fx
        .register(&fx.file("a.mkv", b"derivative"), &fx.sources[..1])
        .unwrap();
    let other = fx.sources[1].clone();
    resign(&fx, &d.blake3, |m| {
        m.derivation.as_mut().unwrap().sources = vec![other]
    });
    both(&fx, &["derivation_log_mismatch"]);

    // A derivation added to a collected file's manifest: no derivation
    // entry registers it.
    let fx = Fixture::new();
    let s1 = fx.sources[1].clone();
    let s0 = fx.sources[0].clone();
    resign(&fx, &s1, |m| m.derivation = Some(derivation(&[s0])));
    both(&fx, &["manifest_without_registration"]);
}

#[test]
fn version_1_manifests_still_verify_and_versions_do_not_mix() {
    let fx = Fixture::new();
    let s = fx.sources[0].clone();
    resign(&fx, &s, |m| {
        m.schema = SCHEMA_V1.into();
        m.derived = Some(Vec::new());
    });
    assert!(
        std::fs::read_to_string(fx.store.root().join(format!("manifests/{s}.json")))
            .unwrap()
            .contains("\"derived\":[],\"events\"")
    );
    both(&fx, &[]);
    // Version 1 with a derivation, version 2 with `derived`: not valid.
    resign(&fx, &s, |m| {
        m.derivation = Some(derivation(std::slice::from_ref(&s)))
    });
    both(&fx, &["manifest_format"]);
    let fx = Fixture::new();
    let s = fx.sources[0].clone();
    resign(&fx, &s, |m| m.derived = Some(Vec::new()));
    both(&fx, &["manifest_format"]);
}

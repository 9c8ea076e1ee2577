//! The provenance an output carries in its tags: the sources' names, sizes
//! and BLAKE3, the profile and parameters, the versions, and the caller's
//! own tags. Hashing the sources is the slow part; it runs on another
//! thread while the job opens its input, and is waited for only when the
//! output's header is written ([`Tags::get`]).

use crate::error::{Error, Result};
use crate::{Options, SourceFile, ffi, source, tags};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The function behind [`SourceTags`].
pub type SourceTagsFn = dyn Fn(&[PathBuf]) -> Vec<(String, String)> + Send + Sync;

/// More tags made from the sources by the caller (their content hashes,
/// say), made while the sources' BLAKE3 is taken, on another thread.
///
/// ```
/// use custody_transcode::SourceTags;
/// let t = SourceTags::new(|sources| vec![("SOURCES".into(), sources.len().to_string())]);
/// assert_eq!(t.tags(&["a.mp4".into()]), vec![("SOURCES".to_string(), "1".to_string())]);
/// ```
#[derive(Clone)]
pub struct SourceTags(Arc<SourceTagsFn>);

impl SourceTags {
    /// Tags made by `f` from the sources' paths.
    pub fn new(
        f: impl Fn(&[PathBuf]) -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> SourceTags {
        SourceTags(Arc::new(f))
    }

    /// The tags for `sources`.
    pub fn tags(&self, sources: &[PathBuf]) -> Vec<(String, String)> {
        (self.0)(sources)
    }
}

impl std::fmt::Debug for SourceTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceTags(..)")
    }
}

/// The sources as hashed, and every tag the output gets.
pub(crate) struct Provenance {
    pub(crate) sources: Vec<SourceFile>,
    pub(crate) tags: Vec<(String, String)>,
}

/// Hashes `inputs` (their BLAKE3, on every core) while the caller's
/// [`SourceTags`] are made on a thread of their own; then every tag.
pub(crate) fn gather(inputs: &[PathBuf], opts: &Options) -> Result<Provenance> {
    std::thread::scope(|scope| {
        let extra = opts
            .source_tags
            .as_ref()
            .map(|t| scope.spawn(move || t.tags(inputs)));
        let mut sources = Vec::new();
        for p in inputs {
            let (size, blake3) = source::blake3_file(p)?;
            sources.push(SourceFile {
                path: p.clone(),
                size,
                blake3,
            });
        }
        let mut tags = provenance_tags(&sources, opts);
        if let Some(extra) = extra {
            tags.extend(
                extra
                    .join()
                    .map_err(|_| Error::InvalidArgument("making the source tags failed".into()))?,
            );
        }
        Ok(Provenance { sources, tags })
    })
}

/// The output's tags, ready now or once the thread gathering them ends.
pub(crate) struct Tags<'a> {
    pending: Option<Box<dyn FnOnce() -> Result<Provenance> + 'a>>,
    ready: Option<Provenance>,
}

impl<'a> Tags<'a> {
    /// Tags that `wait` gives when first asked for.
    pub(crate) fn later(wait: impl FnOnce() -> Result<Provenance> + 'a) -> Tags<'a> {
        Tags {
            pending: Some(Box::new(wait)),
            ready: None,
        }
    }

    /// Every tag, waiting for them the first time.
    pub(crate) fn get(&mut self) -> Result<&[(String, String)]> {
        Ok(&self.provenance()?.tags)
    }

    /// The sources as hashed, waiting for them if no one has yet.
    pub(crate) fn into_sources(mut self) -> Result<Vec<SourceFile>> {
        self.provenance()?;
        Ok(self.ready.map(|p| p.sources).unwrap_or_default())
    }

    fn provenance(&mut self) -> Result<&Provenance> {
        if let Some(wait) = self.pending.take() {
            self.ready = Some(wait()?);
        }
        self.ready
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("the source tags failed before".into()))
    }
}

/// Custody's own tags, then the caller's.
fn provenance_tags(sources: &[SourceFile], opts: &Options) -> Vec<(String, String)> {
    let join =
        |f: &dyn Fn(&SourceFile) -> String| sources.iter().map(f).collect::<Vec<_>>().join("; ");
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut t = vec![
        (tags::PROFILE.to_string(), opts.profile.name().to_string()),
        (
            tags::PARAMETERS.to_string(),
            opts.parameters()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (tags::SOURCE.to_string(), join(&|s| name(&s.path))),
        (tags::SOURCE_BLAKE3.to_string(), join(&|s| s.blake3.clone())),
        (tags::SOURCE_SIZE.to_string(), join(&|s| s.size.to_string())),
        (tags::FFMPEG.to_string(), ffi::version_info()),
        (
            tags::VERSION.to_string(),
            format!("custody-transcode {}", env!("CARGO_PKG_VERSION")),
        ),
    ];
    t.extend(opts.tags.iter().cloned());
    t
}

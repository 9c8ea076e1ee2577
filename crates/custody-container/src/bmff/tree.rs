//! The box tree of a file, for inspection (`custody probe --boxes`).

use super::boxes::{BoxIter, BoxRef};
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::fourcc::FourCC;
use std::fmt::Write;

/// A box and, for container boxes, its children.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoxNode {
    // Fields in the order of their JSON names, so that serialising directly
    // writes what a sorted `serde_json::Value` would (`custody probe --json`).
    /// Children of a container box (exactly as many as there are: the tree
    /// holds 40 bytes per box).
    #[serde(skip_serializing_if = "<[BoxNode]>::is_empty")]
    pub children: Box<[BoxNode]>,
    /// Absolute offset of the header.
    pub offset: u64,
    /// Declared size.
    pub size: u64,
    /// Box type.
    #[serde(rename = "type")]
    pub kind: FourCC,
}

/// Where the children of a container box of type `kind` start: a fixed
/// offset into its payload, or decided by the payload (`meta`).
enum Children {
    At(usize),
    Meta,
}

fn children(kind: &[u8; 4]) -> Option<Children> {
    Some(match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" | b"dinf" | b"udta" | b"mvex"
        | b"moof" | b"traf" | b"mfra" | b"ilst" | b"sinf" | b"schi" | b"tref" | b"wave" => {
            Children::At(0)
        }
        b"stsd" | b"dref" => Children::At(8),
        b"meta" => Children::Meta,
        _ => return None,
    })
}

/// Whether the tree lists the children of a box of type `kind`.
pub(crate) fn has_children(kind: &[u8; 4]) -> bool {
    children(kind).is_some()
}

/// Where the children of a container box start, or `None` for a leaf.
fn children_at(b: &BoxRef<'_>) -> Option<usize> {
    Some(match children(&b.kind.0)? {
        Children::At(n) => n,
        // ISO `meta` is a full box; QuickTime's is not.
        Children::Meta => match b.payload.get(4..8) {
            Some(t) if t == b"hdlr" || t == b"keys" || t == b"ilst" => 0,
            _ => 4,
        },
    })
}

/// Walks the boxes of `data` (at absolute offset `base`) into nodes;
/// `path` is the box path of their parent (restored before returning), and
/// `cut` tells whether that parent is itself cut short.
fn walk(
    data: &[u8],
    base: u64,
    path: &mut String,
    cut: bool,
    depth: u32,
    limits: Limits,
    diag: &mut Diag,
) -> Result<Box<[BoxNode]>> {
    let mut out = Vec::new();
    let parent_len = path.len();
    for item in BoxIter::new(data, base) {
        let b = match item {
            Ok(b) => b,
            Err(mut e) => {
                e.path = format!("{path}{}", e.path);
                diag.warn(e)?;
                break;
            }
        };
        if b.truncated && depth > 0 && !cut {
            // A box that claims more than its parent holds. (At the top
            // level, the file ends early: `Mp4::parse` reports that, and
            // the boxes inside a box cut short overrun it with it.)
            diag.warn(Error::new(
                b.offset,
                format!("{path}{}", b.kind),
                ErrorKind::BadBoxSize { size: b.size },
            ))?;
        }
        let mut node = BoxNode {
            kind: b.kind,
            offset: b.offset,
            size: b.size,
            children: Box::default(),
        };
        if let Some(skip) = children_at(&b) {
            let _ = write!(path, "{}/", b.kind);
            if depth >= limits.max_depth {
                diag.warn(Error::new(
                    b.offset,
                    path.trim_end_matches('/'),
                    ErrorKind::TooDeep {
                        limit: limits.max_depth,
                    },
                ))?;
            } else if let Some(inner) = b.payload.get(skip..) {
                node.children = walk(
                    inner,
                    b.payload_offset() + skip as u64,
                    path,
                    b.truncated,
                    depth + 1,
                    limits,
                    diag,
                )?;
            }
            path.truncate(parent_len);
        }
        out.push(node);
    }
    Ok(out.into_boxed_slice())
}

/// Walks the whole box tree (container boxes are descended, up to
/// [`Limits::max_depth`] levels); problems become warnings, or errors in strict mode.
pub fn tree(data: &[u8], limits: Limits) -> Result<(Vec<BoxNode>, Vec<Warning>)> {
    let mut diag = Diag::new(limits.strict);
    let nodes = walk(data, 0, &mut String::new(), false, 0, limits, &mut diag)?;
    Ok((nodes.into_vec(), diag.warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bmff::write_box;

    #[test]
    fn nesting_beyond_the_limit_is_reported_not_followed() {
        // 100 nested moov boxes.
        let mut d = b"free".to_vec();
        for _ in 0..100 {
            let mut outer = Vec::new();
            write_box(&mut outer, FourCC(*b"moov"), &d, false);
            d = outer;
        }
        let (nodes, warnings) = tree(&d, Limits::default()).unwrap();
        assert_eq!(nodes.len(), 1);
        assert!(
            warnings
                .iter()
                .any(|w| w.message.contains("deeper than 32")),
            "{warnings:?}"
        );
        let strict = Limits {
            strict: true,
            ..Limits::default()
        };
        assert!(matches!(
            tree(&d, strict).unwrap_err().kind,
            ErrorKind::TooDeep { limit: 32 }
        ));
    }

    #[test]
    fn synthetic_file_tree() {
        let d = custody_testkit::mp4::synthetic_recording(1, 10, 5);
        let (nodes, warnings) = tree(&d, Limits::default()).unwrap();
        assert!(warnings.is_empty());
        let kinds: Vec<String> = nodes.iter().map(|n| n.kind.to_string()).collect();
        assert_eq!(kinds, ["ftyp", "mdat", "moov"]);
        let moov = &nodes[2];
        assert_eq!(
            moov.children
                .iter()
                .filter(|c| &c.kind.0 == b"trak")
                .count(),
            2
        );
    }
}

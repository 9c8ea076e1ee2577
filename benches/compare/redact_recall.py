#!/usr/bin/env python3
"""Recall of face redaction, measured the same way for any tool's output.

The reference is `custody detect SOURCE --faces --json` on every picture
(CenterFace, threshold 0.5). A reference box counts as covered in a redacted
copy when the copy no longer holds the source's detail there: inside the box,
the luma is averaged over 3x3 blocks and its Laplacian (4-neighbour) taken,
for the source and for the copy, and the box is covered when the correlation
of the two is below COVERED (0.4). An unmasked face keeps its detail through
the encoder (correlation 0.63 to 0.99 on Megamind, median 0.87); a blurred
one keeps none of it (-0.06 to 0.20): see `check` below. Boxes whose source
has almost no detail (the mean absolute value of that Laplacian below FLAT,
0.5 grey levels) cannot be judged and are left out. A smoothness test (the
copy's mean absolute Laplacian against the source's) does not separate the
two on these faces: they are smooth already, and the encoder's noise on a
blurred face leaves half the source's value (0.17 to 0.72 masked, 0.80 to
1.05 not). A picture counts when it has at least one judged box; its faces
are covered when all its judged boxes are. Recall is the share of such
pictures whose faces are covered (and, beside it, the share of boxes).

The pictures are decoded to raw grey frames by the ffmpeg CLI, each file
through its own pipe, one picture at a time: no video is held in memory.

  redact_recall.py recall REF.json SOURCE NAME=COPY...   recall of each copy
  redact_recall.py regions REF.json OUT.json             a regions file that
      masks the reference boxes of even pictures only (one keyframe each)
  redact_recall.py check REF.json SOURCE COPY            with COPY made from
      that regions file: how many boxes of even pictures (masked) and of odd
      pictures (not masked) the criterion calls covered

Prints a summary; with --json FILE also writes the figures there.
"""
import json
import subprocess
import sys

import numpy as np

COVERED = 0.4
FLAT = 0.5
BLOCK = 3


def size(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", path],
        check=True, capture_output=True, text=True).stdout
    w, h = out.strip().split(",")[:2]
    return int(w), int(h)


def frames(path, w, h):
    """The pictures of `path` as grey (h, w) uint8 arrays, in order."""
    p = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
         "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        stdout=subprocess.PIPE)
    n = w * h
    try:
        while True:
            buf = p.stdout.read(n)
            if len(buf) < n:
                break
            yield np.frombuffer(buf, np.uint8).reshape(h, w)
    finally:
        p.stdout.close()
        if p.wait() != 0:
            sys.exit(f"redact_recall: ffmpeg could not decode {path}")


def detail(g, b):
    """The detail of `g` inside box `b` (x0, y0, x1, y1): the Laplacian of
    the luma averaged over BLOCK x BLOCK blocks."""
    x0, y0, x1, y1 = b
    h, w = (y1 - y0) // BLOCK * BLOCK, (x1 - x0) // BLOCK * BLOCK
    if h < 3 * BLOCK or w < 3 * BLOCK:
        return None
    r = g[y0:y0 + h, x0:x0 + w].astype(np.float32)
    r = r.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    c = r[1:-1, 1:-1]
    return 4 * c - r[:-2, 1:-1] - r[2:, 1:-1] - r[1:-1, :-2] - r[1:-1, 2:]


def reference(path, w, h):
    """Reference boxes per picture index, in whole pixels inside the picture."""
    d = json.load(open(path))
    if isinstance(d, list):
        d = d[0]
    boxes = {}
    for f in d["frames"]:
        bs = []
        for det in f["detections"]:
            if det.get("class") not in (None, "face"):
                continue
            b = det["box"]
            x0, y0 = max(0, int(np.floor(b["x0"]))), max(0, int(np.floor(b["y0"])))
            x1, y1 = min(w, int(np.ceil(b["x1"]))), min(h, int(np.ceil(b["y1"])))
            if x1 > x0 and y1 > y0:
                bs.append((x0, y0, x1, y1))
        boxes[f["frame"]] = bs
    return d, boxes


def judge(src, out, b):
    """(covered, correlation) for box `b` of `src` in `out`; (None, None)
    when the box cannot be judged."""
    s = detail(src, b)
    if s is None or float(np.abs(s).mean()) < FLAT:
        return None, None
    o = detail(out, b)
    s, o = s - s.mean(), o - o.mean()
    d = float(np.sqrt((s * s).sum() * (o * o).sum()))
    c = float((s * o).sum()) / d if d > 0 else 0.0
    return c < COVERED, c


def recall(ref, source, copies):
    w, h = size(source)
    _, boxes = reference(ref, w, h)
    names = [c.split("=", 1)[0] for c in copies]
    paths = [c.split("=", 1)[1] for c in copies]
    for p in paths:
        if size(p) != (w, h):
            sys.exit(f"redact_recall: {p} is {size(p)}, the source {w}x{h}")
    stats = {n: {"pictures": 0, "covered_pictures": 0, "boxes": 0, "covered_boxes": 0,
                 "unjudged_boxes": 0, "correlations": []} for n in names}
    gens = [frames(p, w, h) for p in paths]
    count = 0
    for i, src in enumerate(frames(source, w, h)):
        outs = [next(g, None) for g in gens]
        count += 1
        for n, out in zip(names, outs):
            if out is None:
                sys.exit(f"redact_recall: {n} has fewer pictures than the source")
            st = stats[n]
            judged = []
            for b in boxes.get(i, []):
                c, r = judge(src, out, b)
                if c is None:
                    st["unjudged_boxes"] += 1
                    continue
                judged.append(c)
                st["correlations"].append(r)
            if judged:
                st["pictures"] += 1
                st["covered_pictures"] += all(judged)
                st["boxes"] += len(judged)
                st["covered_boxes"] += sum(judged)
    for n, g in zip(names, gens):
        if next(g, None) is not None:
            sys.exit(f"redact_recall: {n} has more pictures than the source")
    result = {}
    for n in names:
        st = stats[n]
        rs = np.array(st.pop("correlations") or [np.nan])
        st["recall"] = st["covered_pictures"] / st["pictures"] if st["pictures"] else None
        st["box_recall"] = st["covered_boxes"] / st["boxes"] if st["boxes"] else None
        st["median_correlation"] = float(np.nanmedian(rs))
        st["frames"] = count
        result[n] = st
        print(f"recall: {n}: {st['covered_pictures']}/{st['pictures']} pictures with faces covered"
              f" ({100 * (st['recall'] or 0):.1f}%), {st['covered_boxes']}/{st['boxes']} boxes"
              f" ({100 * (st['box_recall'] or 0):.1f}%); median correlation {st['median_correlation']:.2f};"
              f" {st['unjudged_boxes']} flat boxes not judged", file=sys.stderr)
    return result


def regions(ref, out):
    d = json.load(open(ref))
    if isinstance(d, list):
        d = d[0]
    rs = []
    for f in d["frames"]:
        if f["frame"] % 2:
            continue
        for k, det in enumerate(f["detections"]):
            rs.append({"label": f"picture {f['frame']} face {k}",
                       "keyframes": [{"time": f["time"], "box": det["box"]}]})
    json.dump({"regions": rs}, open(out, "w"))
    return {"regions": len(rs)}


def check(ref, source, copy):
    w, h = size(source)
    _, boxes = reference(ref, w, h)
    r = {"masked": [0, 0], "unmasked": [0, 0], "masked_correlations": [], "unmasked_correlations": []}
    for i, (src, out) in enumerate(zip(frames(source, w, h), frames(copy, w, h))):
        kind = "unmasked" if i % 2 else "masked"
        for b in boxes.get(i, []):
            c, q = judge(src, out, b)
            if c is None:
                continue
            r[kind][0] += c
            r[kind][1] += 1
            r[kind + "_correlations"].append(q)
    m, u = np.array(r.pop("masked_correlations") or [np.nan]), np.array(r.pop("unmasked_correlations") or [np.nan])
    r["masked_max_correlation"], r["unmasked_min_correlation"] = float(np.nanmax(m)), float(np.nanmin(u))
    r["masked_median_correlation"], r["unmasked_median_correlation"] = float(np.nanmedian(m)), float(np.nanmedian(u))
    print(f"recall: criterion check: masked boxes called covered {r['masked'][0]}/{r['masked'][1]}"
          f" (correlation median {r['masked_median_correlation']:.2f}, max {r['masked_max_correlation']:.2f});"
          f" unmasked boxes called covered {r['unmasked'][0]}/{r['unmasked'][1]}"
          f" (median {r['unmasked_median_correlation']:.2f}, min {r['unmasked_min_correlation']:.2f});"
          f" threshold {COVERED}", file=sys.stderr)
    return r


def main(argv):
    out = None
    if "--json" in argv:
        k = argv.index("--json")
        out = argv[k + 1]
        argv = argv[:k] + argv[k + 2:]
    if len(argv) >= 4 and argv[0] == "recall":
        r = recall(argv[1], argv[2], argv[3:])
    elif len(argv) == 3 and argv[0] == "regions":
        r = regions(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "check":
        r = check(argv[1], argv[2], argv[3])
    else:
        sys.exit(__doc__)
    if out:
        json.dump(r, open(out, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Differential check: verify_store.py (written from docs/FORMAT.md alone)
against `custody verify --json`, on a freshly made store and tampered copies.

Uses `custody` only as a black box (ingest, key, log anchor, verify).

    python3 tamper_compare.py [--custody PATH] [--work DIR]

Prints one line per case: MATCH/DIFF, both verdicts and failure-name sets,
then a summary; exits 1 when any case differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import blake3
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VERIFIER = os.path.join(HERE, "verify_store.py")


def sh(cmd, env=None, check=True):
    r = subprocess.run(cmd, capture_output=True, env=env, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: rc={r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


class Env:
    def __init__(self, custody: str, work: str):
        self.custody = custody
        self.work = work
        self.home = os.path.join(work, "home")  # no default key there
        os.makedirs(self.home, exist_ok=True)

    def tool_env(self, key=None):
        env = {k: v for k, v in os.environ.items() if k != "CUSTODY_KEY"}
        env["HOME"] = self.home
        if key:
            env["CUSTODY_KEY"] = key
        return env


def names_of(items):
    return sorted({i["name"] for i in items})


def run_tool(e: Env, store, keys, anchor=None, fast=False):
    cmd = [e.custody, "verify", "--store", store, "--json"]
    for k in keys:
        cmd += ["--public-key", k]
    if anchor:
        cmd += ["--anchor", anchor]
    if fast:
        cmd.append("--fast")
    r = sh(cmd, env=e.tool_env(), check=False)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = {"raw": r.stdout + r.stderr}
    fails = list(out.get("failures", []) or [])
    warns = list(out.get("warnings", []) or [])
    log = out.get("log") or {}
    fails += log.get("failures", []) or []
    warns += log.get("warnings", []) or []
    return r.returncode, out, names_of(fails), names_of(warns)


def run_mine(store, keys, anchor=None, fast=False):
    cmd = [sys.executable, VERIFIER, store]
    for k in keys:
        cmd += ["--public-key", k]
    if anchor:
        cmd += ["--anchor", anchor]
    if fast:
        cmd.append("--fast")
    r = sh(cmd, check=False)
    out = json.loads(r.stdout)
    return r.returncode, out, names_of(out.get("failures", [])), names_of(out.get("warnings", []))


# -- store surgery helpers ------------------------------------------------------

def obj_path(store, h):
    return os.path.join(store, "objects", h[:2], h)


def writable(path):
    os.chmod(path, 0o644)


def log_lines(store):
    with open(os.path.join(store, "custody.log"), "rb") as f:
        return f.read().split(b"\n")[:-1]


def write_log(store, lines, trailing=True):
    with open(os.path.join(store, "custody.log"), "wb") as f:
        f.write(b"\n".join(lines) + (b"\n" if trailing and lines else b""))


def canon(v):
    return rfc8785.dumps(v)


def sign_detached(priv, obj):
    msg = canon({k: v for k, v in obj.items() if k != "signature"})
    obj["signature"] = priv.sign(msg).hex()
    return obj


def fp_of(pub: bytes):
    return blake3.blake3(pub).digest()[:16].hex()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", default=os.path.join(REPO, "target/release/custody"))
    ap.add_argument("--work", default="/tmp/tp-compare")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    e = Env(a.custody, a.work)
    W = lambda *p: os.path.join(a.work, *p)

    # ---- base store: 3 files, then 1, then 1 (heads kept at seq 3, 4, 5) ----
    key = W("station.key")
    env = e.tool_env(key)
    show = sh([e.custody, "key", "init"], env=env).stdout
    pub = [l.split()[-1] for l in show.splitlines() if l.startswith("public key")][0]
    for d in ("rec1", "rec2", "rec3"):
        os.makedirs(W(d))
    shutil.copy(os.path.join(REPO, "fuzz/corpus/bmff/synthetic-1s.mp4"), W("rec1", "A.MP4"))
    shutil.copy(os.path.join(REPO, "fuzz/corpus/ts/synthetic.ts"), W("rec1", "C.TS"))
    with open(W("rec1", "B.MP4"), "wb") as f:
        f.write(os.urandom(300_000))
    with open(W("rec2", "D.MP4"), "wb") as f:
        f.write(os.urandom(70_000))
    with open(W("rec3", "E.MP4"), "wb") as f:
        f.write(os.urandom(5_000))
    base = W("base")
    heads = {}
    anchors = {}
    for n, d in ((3, "rec1"), (4, "rec2"), (5, "rec3")):
        sh([e.custody, "ingest", W(d), "--store", base, "--json"], env=env)
        heads[n] = open(os.path.join(base, "custody.log.head"), "rb").read()
        r = sh([e.custody, "log", "anchor", "--store", base], env=env)
        anchors[n] = W(f"anchor{n}.json")
        open(anchors[n], "w").write(r.stdout)
    objs = sorted(os.listdir(os.path.join(base, "manifests")))
    objs = [o[:-5] for o in objs]
    by_size = sorted(objs, key=lambda h: os.path.getsize(obj_path(base, h)))
    small, big = by_size[0], by_size[-1]
    by_seq = {}
    for i, line in enumerate(log_lines(base), 1):
        by_seq[i] = json.loads(line)["object"]
    other = by_size[1]

    # an unrelated key, for forgeries
    rogue = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization
    rogue_pub = rogue.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)

    cases = []

    def case(name, keys=(pub,), anchor=None, fast=False, src=None):
        def deco(fn):
            cases.append((name, fn, list(keys), anchor, fast, src or base))
            return fn
        return deco

    @case("clean")
    def _(s): pass

    @case("clean --fast", fast=True)
    def _(s): pass

    @case("clean, no public key", keys=())
    def _(s): pass

    @case("clean, wrong public key", keys=(rogue_pub.hex(),))
    def _(s): pass

    @case("clean with anchor5", anchor=anchors[5])
    def _(s): pass

    @case("clean with older anchor3", anchor=anchors[3])
    def _(s): pass

    @case("flip object byte")
    def _(s):
        p = obj_path(s, big); writable(p)
        with open(p, "r+b") as f:
            f.seek(100_000); b = f.read(1); f.seek(100_000); f.write(bytes([b[0] ^ 1]))

    @case("flip object byte --fast", fast=True)
    def _(s):
        p = obj_path(s, big); writable(p)
        with open(p, "r+b") as f:
            f.seek(5); b = f.read(1); f.seek(5); f.write(bytes([b[0] ^ 0x80]))

    @case("truncate object")
    def _(s):
        p = obj_path(s, big); writable(p)
        os.truncate(p, 1000)

    @case("swap two objects")
    def _(s):
        p, q = obj_path(s, big), obj_path(s, other)
        tmp = p + "x"
        os.rename(p, tmp); os.rename(q, p); os.rename(tmp, q)

    @case("edit manifest (original.name)")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        d["manifest"]["original"]["name"] = "EDITED.MP4"
        open(p, "wb").write(canon(d))

    @case("edit manifest (object.sha256)")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        d["manifest"]["object"]["sha256"] = "0" * 64
        open(p, "wb").write(canon(d))

    @case("edit manifest (object.size)")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        d["manifest"]["object"]["size"] += 1
        open(p, "wb").write(canon(d))

    @case("add member to manifest")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        d["manifest"]["object"]["extra"] = "x"
        open(p, "wb").write(canon(d))

    @case("add member to manifest signature")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        d["signature"]["note"] = "x"
        open(p, "wb").write(canon(d))

    @case("manifest not canonical (pretty-printed)")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        open(p, "w").write(json.dumps(d, indent=1, sort_keys=True))

    @case("manifest with trailing newline")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        open(p, "ab").write(b"\n")

    @case("manifest re-signed by rogue key")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        d = json.loads(open(p, "rb").read())
        d["signature"]["key"] = fp_of(rogue_pub)
        d["signature"]["value"] = rogue.sign(canon(d["manifest"])).hex()
        open(p, "wb").write(canon(d))

    @case("swap two manifests (misfiled)")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        q = os.path.join(s, "manifests", other + ".json")
        tmp = p + "x"
        os.rename(p, tmp); os.rename(q, p); os.rename(tmp, q)

    @case("delete manifest")
    def _(s):
        os.remove(os.path.join(s, "manifests", big + ".json"))

    @case("delete object")
    def _(s):
        os.remove(obj_path(s, big))

    @case("delete object and its tree")
    def _(s):
        os.remove(obj_path(s, big)); os.remove(obj_path(s, big) + ".b3tree")

    @case("delete whole registration (object+tree+manifest)")
    def _(s):
        os.remove(obj_path(s, big)); os.remove(obj_path(s, big) + ".b3tree")
        os.remove(os.path.join(s, "manifests", big + ".json"))

    @case("delete whole registration and its catalog row")
    def _(s):
        os.remove(obj_path(s, big)); os.remove(obj_path(s, big) + ".b3tree")
        os.remove(os.path.join(s, "manifests", big + ".json"))
        con = sqlite3.connect(os.path.join(s, "catalog.sqlite"))
        con.execute("DELETE FROM registrations WHERE blake3 = ?", (big,)); con.commit(); con.close()

    @case("delete manifest and object (tree kept)")
    def _(s):
        os.remove(obj_path(s, big))
        os.remove(os.path.join(s, "manifests", big + ".json"))

    @case("add unregistered object (no manifest, no log)")
    def _(s):
        data = b"stray bytes"
        h = blake3.blake3(data).hexdigest()
        os.makedirs(os.path.join(s, "objects", h[:2]), exist_ok=True)
        open(obj_path(s, h), "wb").write(data)

    @case("unknown file under objects/")
    def _(s):
        open(os.path.join(s, "objects", big[:2], "README"), "w").write("x")

    @case("unknown directory under objects/")
    def _(s):
        os.makedirs(os.path.join(s, "objects", "zz"))
        open(os.path.join(s, "objects", "zz", "f"), "w").write("x")

    @case("file directly in objects/")
    def _(s):
        open(os.path.join(s, "objects", "notes.txt"), "w").write("x")

    @case("object misplaced in wrong prefix dir")
    def _(s):
        os.makedirs(os.path.join(s, "objects", "00"), exist_ok=True)
        data = b"misplaced"
        h = blake3.blake3(data).hexdigest()
        if h.startswith("00"):
            h = "ff" + h[2:]
        open(os.path.join(s, "objects", "00", h), "wb").write(data)

    @case("atomic-write leftover under objects/ and tmp/ (ignored)")
    def _(s):
        open(os.path.join(s, "objects", big[:2], ".x.tmp-123"), "w").write("x")
        open(os.path.join(s, "tmp", "partial"), "w").write("x")

    @case("delete a log line (middle)")
    def _(s):
        L = log_lines(s); del L[1]; write_log(s, L)

    @case("swap two log lines")
    def _(s):
        L = log_lines(s); L[1], L[2] = L[2], L[1]; write_log(s, L)

    @case("edit a log line (details), kept canonical")
    def _(s):
        L = log_lines(s); d = json.loads(L[1]); d["details"]["source"] = "X.MP4"; L[1] = canon(d)
        write_log(s, L)

    @case("edit a log line, not canonical")
    def _(s):
        L = log_lines(s); L[1] = L[1].replace(b'{"actor"', b'{ "actor"', 1); write_log(s, L)

    @case("last log line without newline")
    def _(s):
        write_log(s, log_lines(s), trailing=False)

    @case("append forged line (bad signature)")
    def _(s):
        L = log_lines(s)
        d = json.loads(L[-1]); d["seq"] += 1; d["prev"] = blake3.blake3(L[-1]).hexdigest()
        d["object"] = "ab" * 32
        L.append(canon(d)); write_log(s, L)

    @case("append forged line signed by rogue key")
    def _(s):
        L = log_lines(s)
        d = json.loads(L[-1]); d["seq"] += 1; d["prev"] = blake3.blake3(L[-1]).hexdigest()
        d["key"] = fp_of(rogue_pub); d["object"] = "ab" * 32
        L.append(canon(sign_detached(rogue, d))); write_log(s, L)

    @case("append garbage line")
    def _(s):
        open(os.path.join(s, "custody.log"), "ab").write(b"garbage\n")

    @case("append empty line")
    def _(s):
        open(os.path.join(s, "custody.log"), "ab").write(b"\n")

    @case("roll back log tail with older head (no anchor)")
    def _(s):
        write_log(s, log_lines(s)[:3]); open(os.path.join(s, "custody.log.head"), "wb").write(heads[3])

    @case("roll back log tail with older head, anchor5", anchor=anchors[5])
    def _(s):
        write_log(s, log_lines(s)[:3]); open(os.path.join(s, "custody.log.head"), "wb").write(heads[3])

    @case("roll back log tail with older head, anchor3", anchor=anchors[3])
    def _(s):
        write_log(s, log_lines(s)[:3]); open(os.path.join(s, "custody.log.head"), "wb").write(heads[3])

    @case("roll back log tail only (head kept)")
    def _(s):
        write_log(s, log_lines(s)[:3])

    @case("head one behind (head4, 5 entries)")
    def _(s):
        open(os.path.join(s, "custody.log.head"), "wb").write(heads[4])

    @case("head two behind (head3, 5 entries)")
    def _(s):
        open(os.path.join(s, "custody.log.head"), "wb").write(heads[3])

    @case("delete head")
    def _(s):
        os.remove(os.path.join(s, "custody.log.head"))

    @case("head garbage")
    def _(s):
        open(os.path.join(s, "custody.log.head"), "wb").write(b"{nope")

    @case("head bad signature")
    def _(s):
        p = os.path.join(s, "custody.log.head")
        d = json.loads(open(p, "rb").read())
        d["signature"] = ("1" if d["signature"][0] != "1" else "2") + d["signature"][1:]
        open(p, "wb").write(canon(d))

    @case("head hash edited and re-signed by rogue key")
    def _(s):
        p = os.path.join(s, "custody.log.head")
        d = json.loads(open(p, "rb").read())
        d["key"] = fp_of(rogue_pub)
        open(p, "wb").write(canon(sign_detached(rogue, d)))

    @case("anchor with bad signature", anchor="BADANCHOR")
    def _(s): pass

    @case("empty the catalog table")
    def _(s):
        con = sqlite3.connect(os.path.join(s, "catalog.sqlite"))
        con.execute("DELETE FROM registrations"); con.commit(); con.close()

    @case("catalog extra row")
    def _(s):
        con = sqlite3.connect(os.path.join(s, "catalog.sqlite"))
        con.execute("INSERT INTO registrations(blake3,size,path) VALUES (?,?,?)", ("cd" * 32, 1, "x"))
        con.commit(); con.close()

    @case("delete catalog")
    def _(s):
        os.remove(os.path.join(s, "catalog.sqlite"))

    @case("catalog not sqlite")
    def _(s):
        open(os.path.join(s, "catalog.sqlite"), "wb").write(b"not a database" * 100)

    @case("delete a tree")
    def _(s):
        os.remove(obj_path(s, big) + ".b3tree")

    @case("corrupt tree header (root)")
    def _(s):
        p = obj_path(s, big) + ".b3tree"; writable(p)
        with open(p, "r+b") as f:
            f.seek(40); f.write(b"\xff")

    @case("corrupt tree leaf + flip object byte")
    def _(s):
        p = obj_path(s, big) + ".b3tree"; writable(p)
        with open(p, "r+b") as f:
            f.seek(70); f.write(b"\xff")
        p = obj_path(s, big); writable(p)
        with open(p, "r+b") as f:
            f.seek(7); b = f.read(1); f.seek(7); f.write(bytes([b[0] ^ 1]))

    @case("key record: public key edited")
    def _(s):
        kd = os.path.join(s, "keys"); p = os.path.join(kd, os.listdir(kd)[0])
        d = json.loads(open(p, "rb").read())
        d["public_key"] = rogue_pub.hex()
        open(p, "wb").write(canon(d))

    @case("key record: bad signature")
    def _(s):
        kd = os.path.join(s, "keys"); p = os.path.join(kd, os.listdir(kd)[0])
        d = json.loads(open(p, "rb").read())
        d["signature"] = ("1" if d["signature"][0] != "1" else "2") + d["signature"][1:]
        open(p, "wb").write(canon(d))

    @case("key record: bad signature, no public key", keys=())
    def _(s):
        kd = os.path.join(s, "keys"); p = os.path.join(kd, os.listdir(kd)[0])
        d = json.loads(open(p, "rb").read())
        d["signature"] = ("1" if d["signature"][0] != "1" else "2") + d["signature"][1:]
        open(p, "wb").write(canon(d))

    @case("key record deleted")
    def _(s):
        kd = os.path.join(s, "keys"); os.remove(os.path.join(kd, os.listdir(kd)[0]))

    @case("key record deleted, no public key", keys=())
    def _(s):
        kd = os.path.join(s, "keys"); os.remove(os.path.join(kd, os.listdir(kd)[0]))

    @case("rogue self-introduced key record added")
    def _(s):
        fp = fp_of(rogue_pub)
        rec = {"algorithm": "ed25519", "created": "2026-01-01T00:00:00Z", "fingerprint": fp,
               "format": "custody.key/1", "introduced_by": fp, "public_key": rogue_pub.hex()}
        open(os.path.join(s, "keys", fp + ".json"), "wb").write(canon(sign_detached(rogue, rec)))

    @case("rogue key record claiming the station key introduced it")
    def _(s):
        fp = fp_of(rogue_pub)
        station_fp = os.listdir(os.path.join(s, "keys"))[0][:-5]
        rec = {"algorithm": "ed25519", "created": "2026-01-01T00:00:00Z", "fingerprint": fp,
               "format": "custody.key/1", "introduced_by": station_fp,
               "public_key": rogue_pub.hex()}
        open(os.path.join(s, "keys", fp + ".json"), "wb").write(canon(sign_detached(rogue, rec)))

    @case("rogue self-introduced key + forged appended line, no public key", keys=())
    def _(s):
        fp = fp_of(rogue_pub)
        rec = {"algorithm": "ed25519", "created": "2026-01-01T00:00:00Z", "fingerprint": fp,
               "format": "custody.key/1", "introduced_by": fp, "public_key": rogue_pub.hex()}
        open(os.path.join(s, "keys", fp + ".json"), "wb").write(canon(sign_detached(rogue, rec)))
        L = log_lines(s)
        d = json.loads(L[-1]); d["seq"] += 1; d["prev"] = blake3.blake3(L[-1]).hexdigest()
        d["key"] = fp; d["event"] = "fixity check"; d["object"] = None
        L.append(canon(sign_detached(rogue, d))); write_log(s, L)
        h = json.loads(open(os.path.join(s, "custody.log.head"), "rb").read())
        h["seq"] = d["seq"]; h["hash"] = blake3.blake3(L[-1]).hexdigest(); h["key"] = fp
        open(os.path.join(s, "custody.log.head"), "wb").write(canon(sign_detached(rogue, h)))

    @case("marker missing")
    def _(s):
        os.remove(os.path.join(s, "custody-store.json"))

    @case("marker unknown version")
    def _(s):
        open(os.path.join(s, "custody-store.json"), "wb").write(b'{"format":"custody.store/2"}')

    @case("marker not canonical")
    def _(s):
        open(os.path.join(s, "custody-store.json"), "wb").write(b'{"format": "custody.store/1"}\n')

    @case("log deleted (head kept)")
    def _(s):
        os.remove(os.path.join(s, "custody.log"))

    @case("log and head deleted")
    def _(s):
        os.remove(os.path.join(s, "custody.log")); os.remove(os.path.join(s, "custody.log.head"))

    @case("log failed + manifest deleted")
    def _(s):
        L = log_lines(s); del L[3]; write_log(s, L)
        os.remove(os.path.join(s, "manifests", by_size[0] + ".json"))
        os.remove(os.path.join(s, "manifests", big + ".json"))


    # ---- forgeries signed by a second key that the verifier is told to trust:
    # they separate format/sequence/chain rules from signature rules ----
    both = (pub, rogue_pub.hex())
    rfp = fp_of(rogue_pub)

    def resign_manifest(s, h, edit, name=None):
        p = os.path.join(s, "manifests", h + ".json")
        d = json.loads(open(p, "rb").read())
        edit(d["manifest"])
        d["signature"]["key"] = rfp
        d["signature"]["value"] = rogue.sign(canon(d["manifest"])).hex()
        open(os.path.join(s, "manifests", (name or h) + ".json"), "wb").write(canon(d))

    @case("trusted 2nd key: clean", keys=both)
    def _(s): pass

    @case("trusted 2nd key: manifest re-signed unchanged", keys=both)
    def _(s): resign_manifest(s, big, lambda m: None)

    @case("trusted 2nd key: unknown member in manifest.object", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("extra", 1))

    @case("trusted 2nd key: unknown member at manifest top level", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m.__setitem__("extra", 1))

    @case("trusted 2nd key: unknown member in an event", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["events"][0].__setitem__("extra", 1))

    @case("trusted 2nd key: missing member (original.path)", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["original"].pop("path"))

    @case("trusted 2nd key: null where schema has none (original.name)", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["original"].__setitem__("name", None))

    @case("trusted 2nd key: unknown schema custody.manifest/2", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m.__setitem__("schema", "custody.manifest/2"))

    @case("trusted 2nd key: bad pattern (collection.time)", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["collection"].__setitem__("time", "yesterday"))

    @case("trusted 2nd key: events empty", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m.__setitem__("events", []))

    @case("trusted 2nd key: manifest size edited", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("size", m["object"]["size"] + 1))

    @case("trusted 2nd key: manifest sha256 edited", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("sha256", "0" * 64))

    @case("trusted 2nd key: manifest sha256 edited --fast", keys=both, fast=True)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("sha256", "0" * 64))

    @case("trusted 2nd key: manifest blake3 edited (misfiled)", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("blake3", "0" * 64))

    @case("trusted 2nd key: manifest tree path edited", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("tree", "objects/x"))

    @case("trusted 2nd key: manifest tree_leaf_size edited", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("tree_leaf_size", 1024))

    @case("trusted 2nd key: manifest float in size", keys=both)
    def _(s): resign_manifest(s, big, lambda m: m["object"].__setitem__("size", 300000.5))

    def forge_line(s, edit, idx=None):
        """Append (idx None) or replace line idx with an entry signed by rogue."""
        L = log_lines(s)
        if idx is None:
            d = json.loads(L[-1]); d["seq"] += 1; d["prev"] = blake3.blake3(L[-1]).hexdigest()
            d["event"] = "fixity check"; d["object"] = None; d["details"] = {}
        else:
            d = json.loads(L[idx])
        d["key"] = rfp
        edit(d)
        line = canon(sign_detached(rogue, d))
        if idx is None:
            L.append(line)
        else:
            L[idx] = line
        write_log(s, L)
        return L

    def set_head(s, seq, h):
        d = {"format": "custody.head/1", "seq": seq, "hash": h, "key": rfp}
        open(os.path.join(s, "custody.log.head"), "wb").write(canon(sign_detached(rogue, d)))

    @case("trusted 2nd key: appended genuine line, head not moved", keys=both)
    def _(s): forge_line(s, lambda d: None)

    @case("trusted 2nd key: appended line + head", keys=both)
    def _(s):
        L = forge_line(s, lambda d: None); set_head(s, len(L), blake3.blake3(L[-1]).hexdigest())

    @case("trusted 2nd key: head S=N-1 with wrong hash", keys=both)
    def _(s): set_head(s, 4, "ab" * 32)

    @case("trusted 2nd key: head S=N with wrong hash", keys=both)
    def _(s): set_head(s, 5, "ab" * 32)

    @case("trusted 2nd key: head S=N+3", keys=both)
    def _(s): set_head(s, 8, "ab" * 32)

    @case("trusted 2nd key: log line with extra member", keys=both)
    def _(s): forge_line(s, lambda d: d.__setitem__("extra", 1), idx=2)

    @case("trusted 2nd key: log line missing member", keys=both)
    def _(s): forge_line(s, lambda d: d.pop("operator"), idx=2)

    @case("trusted 2nd key: log line bad time pattern", keys=both)
    def _(s): forge_line(s, lambda d: d.__setitem__("time", "2026-01-01 00:00:00"), idx=2)

    @case("trusted 2nd key: log line wrong seq", keys=both)
    def _(s): forge_line(s, lambda d: d.__setitem__("seq", 7), idx=2)

    @case("trusted 2nd key: log line wrong prev", keys=both)
    def _(s): forge_line(s, lambda d: d.__setitem__("prev", "0" * 64), idx=2)

    @case("trusted 2nd key: first line prev not zeros", keys=both)
    def _(s): forge_line(s, lambda d: d.__setitem__("prev", "1" * 64), idx=0)

    @case("trusted 2nd key: registration line turned into non-ingestion", keys=both)
    def _(s):
        L = log_lines(s)
        # re-sign every line from 3 on so the chain holds, with line 3 no longer an ingestion
        out = L[:2]
        for i in range(2, len(L)):
            d = json.loads(L[i]); d["key"] = rfp
            d["prev"] = blake3.blake3(out[-1]).hexdigest()
            if i == 2:
                d["event"] = "fixity check"
            out.append(canon(sign_detached(rogue, d)))
        write_log(s, out); set_head(s, len(out), blake3.blake3(out[-1]).hexdigest())

    @case("trusted 2nd key: log line over 1 MiB", keys=both)
    def _(s):
        L = forge_line(s, lambda d: d.__setitem__("details", {"pad": "x" * (1 << 20)}))
        set_head(s, len(L), blake3.blake3(L[-1]).hexdigest())

    @case("trusted 2nd key: log integer beyond 2^53", keys=both)
    def _(s):
        L = log_lines(s)
        d = json.loads(L[-1]); d["seq"] += 1; d["prev"] = blake3.blake3(L[-1]).hexdigest()
        d["event"] = "fixity check"; d["object"] = None; d["details"] = {"n": 1234567}; d["key"] = rfp
        msg = canon(d).replace(b"1234567", b"9007199254740993")
        d["signature"] = rogue.sign(msg).hex()
        line = canon(d).replace(b"1234567", b"9007199254740993")
        L.append(line); write_log(s, L); set_head(s, len(L), blake3.blake3(line).hexdigest())

    @case("log failed before a registration whose manifest is deleted")
    def _(s):
        L = log_lines(s); del L[3]; write_log(s, L)   # line 4 gone: fails at line 4 (old seq 5)
        os.remove(os.path.join(s, "manifests", by_seq[5] + ".json"))

    @case("log failed before a registration whose object+manifest are deleted")
    def _(s):
        L = log_lines(s); del L[3]; write_log(s, L)
        os.remove(os.path.join(s, "manifests", by_seq[5] + ".json"))
        os.remove(obj_path(s, by_seq[5]))


    @case("trusted 2nd key: log line missing 'object'", keys=both)
    def _(s): forge_line(s, lambda d: d.pop("object"), idx=2)

    @case("trusted 2nd key: log line missing 'details'", keys=both)
    def _(s): forge_line(s, lambda d: d.pop("details"), idx=2)

    @case("trusted 2nd key: log line operator is a number", keys=both)
    def _(s): forge_line(s, lambda d: d.__setitem__("operator", 7), idx=2)

    @case("trusted 2nd key: last log line missing 'operator' (+head)", keys=both)
    def _(s):
        L = forge_line(s, lambda d: d.pop("operator"))
        set_head(s, len(L), blake3.blake3(L[-1]).hexdigest())

    @case("trusted 2nd key: head with extra member", keys=both)
    def _(s):
        L = log_lines(s)
        d = {"format": "custody.head/1", "seq": len(L), "hash": blake3.blake3(L[-1]).hexdigest(),
             "key": rfp, "extra": 1}
        open(os.path.join(s, "custody.log.head"), "wb").write(canon(sign_detached(rogue, d)))

    @case("key record with extra member (self-signed)")
    def _(s):
        kd = os.path.join(s, "keys"); p = os.path.join(kd, os.listdir(kd)[0])
        d = json.loads(open(p, "rb").read()); d["extra"] = 1
        open(p, "wb").write(canon(d))

    @case("key record renamed to wrong fingerprint")
    def _(s):
        kd = os.path.join(s, "keys"); p = os.path.join(kd, os.listdir(kd)[0])
        os.rename(p, os.path.join(kd, "0" * 32 + ".json"))


    def padded_line(s, total):
        """Append a trusted-2nd-key line whose bytes (without '\n') are exactly `total` long."""
        L = log_lines(s)
        d = json.loads(L[-1]); d["seq"] += 1; d["prev"] = blake3.blake3(L[-1]).hexdigest()
        d["event"] = "fixity check"; d["object"] = None; d["key"] = rfp
        d["details"] = {"pad": ""}
        base_len = len(canon(sign_detached(rogue, dict(d))))
        d["details"] = {"pad": "x" * (total - base_len)}
        line = canon(sign_detached(rogue, d))
        assert len(line) == total, (len(line), total)
        L.append(line); write_log(s, L); set_head(s, len(L), blake3.blake3(line).hexdigest())

    @case("trusted 2nd key: log line of exactly 1 MiB (without its newline)", keys=both)
    def _(s): padded_line(s, 1 << 20)

    @case("trusted 2nd key: log line of 1 MiB - 1 (1 MiB with its newline)", keys=both)
    def _(s): padded_line(s, (1 << 20) - 1)

    @case("trusted 2nd key: log line of 1 MiB + 1", keys=both)
    def _(s): padded_line(s, (1 << 20) + 1)

    @case("trusted 2nd key: duplicate registration of an existing object", keys=both)
    def _(s):
        L = forge_line(s, lambda d: (d.__setitem__("event", "ingestion"), d.__setitem__("object", big)))
        set_head(s, len(L), blake3.blake3(L[-1]).hexdigest())

    @case("trusted 2nd key: registration of an object that is nowhere", keys=both)
    def _(s):
        L = forge_line(s, lambda d: (d.__setitem__("event", "ingestion"), d.__setitem__("object", "ee" * 32)))
        set_head(s, len(L), blake3.blake3(L[-1]).hexdigest())

    @case("object replaced by a symlink to an identical copy")
    def _(s):
        p = obj_path(s, big)
        cp = os.path.join(os.path.dirname(s), os.path.basename(s) + "-outside")
        shutil.copy(p, cp); os.remove(p); os.symlink(cp, p)

    @case("manifest replaced by a symlink to an identical copy")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        cp = os.path.join(os.path.dirname(s), os.path.basename(s) + "-outside.json")
        shutil.copy(p, cp); os.remove(p); os.symlink(cp, p)

    @case("catalog with a hot journal")
    def _(s):
        code = ("import sqlite3, os\n"
                f"c = sqlite3.connect({os.path.join(s, 'catalog.sqlite')!r}, isolation_level=None)\n"
                "c.execute('PRAGMA cache_size=1'); c.execute('BEGIN')\n"
                "c.execute('DELETE FROM registrations')\n"
                "for i in range(3000):\n"
                "    c.execute('INSERT INTO registrations(blake3,size,path) VALUES (?,?,?)', ('%064x' % i, 1, 'x'*200))\n"
                "os._exit(0)\n")
        subprocess.run([sys.executable, "-c", code], check=True)
        assert os.path.exists(os.path.join(s, "catalog.sqlite-journal"))


    @case("unknown file at the store's top level")
    def _(s): open(os.path.join(s, "NOTES.txt"), "w").write("x")

    @case("unknown file under manifests/")
    def _(s): open(os.path.join(s, "manifests", "notes.txt"), "w").write("x")

    @case("manifest named with upper-case hex")
    def _(s):
        p = os.path.join(s, "manifests", big + ".json")
        shutil.copy(p, os.path.join(s, "manifests", big.upper() + ".json"))

    @case("unknown file under keys/")
    def _(s): open(os.path.join(s, "keys", "notes.txt"), "w").write("x")

    @case("atomic-write leftovers under manifests/ and keys/")
    def _(s):
        open(os.path.join(s, "manifests", ".m.tmp-1"), "w").write("x")
        open(os.path.join(s, "keys", ".k.tmp-1"), "w").write("x")

    @case("writable object (mode 0644)")
    def _(s): os.chmod(obj_path(s, big), 0o644)

    emptyb = W("emptybase")
    shutil.copytree(base, emptyb, symlinks=True)
    os.makedirs(W("rec5"))
    open(W("rec5", "Z.MP4"), "wb").close()
    sh([e.custody, "ingest", W("rec5"), "--store", emptyb, "--json"], env=env, check=False)

    @case("store with an empty object ingested", src=emptyb)
    def _(s): pass

    # ---- key rotation ----
    rot = W("rotbase")
    shutil.copytree(base, rot, symlinks=True)
    rkey = W("rot.key")
    shutil.copy(key, rkey)
    renv = e.tool_env(rkey)
    sh([e.custody, "key", "rotate", "--store", rot], env=renv)
    newpub = [l.split()[3] for l in sh([e.custody, "key", "show"], env=renv).stdout.splitlines()
              if l.startswith("station key")][0]
    newfp = fp_of(bytes.fromhex(newpub))
    os.makedirs(W("rec4"))
    with open(W("rec4", "F.MP4"), "wb") as f:
        f.write(os.urandom(9_000))
    sh([e.custody, "ingest", W("rec4"), "--store", rot, "--json"], env=renv)
    rot_anchor = W("anchor-rot.json")
    open(rot_anchor, "w").write(sh([e.custody, "log", "anchor", "--store", rot], env=renv).stdout)

    @case("rotation: old key as anchor", src=rot)
    def _(s): pass

    @case("rotation: new key as anchor", keys=(newpub,), src=rot)
    def _(s): pass

    @case("rotation: both keys", keys=(pub, newpub), src=rot)
    def _(s): pass

    @case("rotation: no key", keys=(), src=rot)
    def _(s): pass

    @case("rotation: old key, anchor after rotation", anchor=rot_anchor, src=rot)
    def _(s): pass

    @case("rotation: new key record deleted, old key anchor", src=rot)
    def _(s): os.remove(os.path.join(s, "keys", newfp + ".json"))

    @case("rotation: old key record deleted, new key anchor", keys=(newpub,), src=rot)
    def _(s): os.remove(os.path.join(s, "keys", fp_of(bytes.fromhex(pub)) + ".json"))

    @case("rotation: new key record deleted, no key", keys=(), src=rot)
    def _(s): os.remove(os.path.join(s, "keys", newfp + ".json"))

    @case("rotation: new key record signature broken, old key anchor", src=rot)
    def _(s):
        p = os.path.join(s, "keys", newfp + ".json")
        d = json.loads(open(p, "rb").read())
        d["signature"] = ("1" if d["signature"][0] != "1" else "2") + d["signature"][1:]
        open(p, "wb").write(canon(d))

    @case("rotation: new key record signature broken, new key anchor", keys=(newpub,), src=rot)
    def _(s):
        p = os.path.join(s, "keys", newfp + ".json")
        d = json.loads(open(p, "rb").read())
        d["signature"] = ("1" if d["signature"][0] != "1" else "2") + d["signature"][1:]
        open(p, "wb").write(canon(d))

    # ---- run ----
    bad_anchor = W("bad-anchor.json")
    d = json.loads(open(anchors[5]).read())
    d["signature"] = ("1" if d["signature"][0] != "1" else "2") + d["signature"][1:]
    open(bad_anchor, "w").write(json.dumps(d) + "\n")

    results = []
    for i, (name, fn, keys, anchor, fast, src) in enumerate(cases):
        s = W(f"case{i:02d}")
        shutil.copytree(src, s, symlinks=True)
        fn(s)
        if anchor == "BADANCHOR":
            anchor = bad_anchor
        trc, tout, tf, tw = run_tool(e, s, keys, anchor, fast)
        mrc, mout, mf, mw = run_mine(s, keys, anchor, fast)
        match = (trc == mrc) and tf == mf
        wmatch = tw == mw
        results.append((name, match))
        tag = "MATCH" if match else "DIFF "
        print(f"{tag} [{i:02d}] {name}\n      tool rc={trc} fail={tf} warn={tw}\n      mine rc={mrc} fail={mf} warn={mw}"
              + ("" if wmatch else "   (warnings differ)"))
        key = lambda i: (i["name"], i.get("object"), i.get("seq"))
        tdet = sorted({key(i) for i in (tout.get("failures") or []) + ((tout.get("log") or {}).get("failures") or [])
                       + (tout.get("warnings") or []) + ((tout.get("log") or {}).get("warnings") or [])}, key=str)
        mdet = sorted({key(i) for i in mout.get("failures", []) + mout.get("warnings", [])}, key=str)
        if tdet != mdet:
            print(f"      detail differs:\n        tool {tdet}\n        mine {mdet}")
        if a.verbose or not match:
            print("      tool:", json.dumps(tout)[:3000])
            print("      mine:", json.dumps(mout)[:3000])
    bad = [n for n, m in results if not m]
    print(f"\n{len(results) - len(bad)} matched, {len(bad)} differed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

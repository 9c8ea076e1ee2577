#!/usr/bin/env python3
"""Independent verifier for Custody evidence stores, store format version 1
(manifest versions 1 and 2, derivations included: FORMAT.md section 10).

This file was written from the written specification alone -- docs/FORMAT.md
and the JSON Schemas in crates/custody-evidence/schema/*.json -- without
reading any of Custody's Rust source code. Its purpose is to show that the
document is enough for a third party to check a store. Where the document is
silent or ambiguous, the reading chosen here is marked "SPEC GAP" in a comment.
The gaps it reported were then settled in FORMAT.md, and the few places
that had read them differently were brought in line with the settled text
(each cites its section).

Usage:
    python3 verify_store.py STORE [--public-key HEX]... [--anchor FILE] [--fast]

Prints one JSON object to stdout:
    {"ok": bool,
     "failures": [{"name", "object", "seq", "message"}, ...],
     "warnings": [same shape]}
Exit status: 0 when the store verifies, 1 when anything fails, 2 when the
verification cannot run (not a store, unknown format version, bad arguments).

The verifier only reads: every file is opened read-only, the catalog is opened
through SQLite with a read-only URI (mode=ro), and nothing is created, changed
or removed in the store.

Dependencies: Python 3.11 standard library, plus `cryptography` (ed25519),
`rfc8785` (RFC 8785 canonical JSON) and `blake3`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import stat
import sys
import urllib.parse
from typing import Any

try:
    import blake3 as _blake3
    import rfc8785
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as _e:  # pragma: no cover - environment problem
    sys.stdout.write(json.dumps({"ok": False, "failures": [], "warnings": [],
                                 "error": f"missing dependency: {_e}"}) + "\n")
    sys.exit(2)

STORE_FORMAT = "custody.store/1"
MAX_LOG_LINE = 1024 * 1024  # §5.2: a line is at most 1 MiB
ZERO_HASH = "0" * 64
MAX_SAFE_INT = 2 ** 53 - 1
READ_CHUNK = 1 << 20

HEX64 = re.compile(r"[0-9a-f]{64}")
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX2 = re.compile(r"[0-9a-f]{2}")


# ---------------------------------------------------------------------------
# JSON Schemas (copied from crates/custody-evidence/schema/*.json so that the
# verifier is one self-contained file).
# ---------------------------------------------------------------------------

_DEFS = {
    "hex32": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "signature": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
    "time": {"type": "string",
             "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"},
    "optString": {"type": ["string", "null"]},
}

HEAD_SCHEMA = {
    "type": "object",
    "required": ["format", "seq", "hash", "key", "signature"],
    "additionalProperties": False,
    "$defs": _DEFS,
    "properties": {
        "format": {"const": "custody.head/1"},
        "seq": {"type": "integer", "minimum": 1, "maximum": 9007199254740991},
        "hash": {"$ref": "#/$defs/hex32"},
        "key": {"$ref": "#/$defs/fingerprint"},
        "signature": {"$ref": "#/$defs/signature"},
    },
}

KEY_SCHEMA = {
    "type": "object",
    "required": ["format", "algorithm", "public_key", "fingerprint", "created",
                 "introduced_by", "signature"],
    "additionalProperties": False,
    "$defs": _DEFS,
    "properties": {
        "format": {"const": "custody.key/1"},
        "algorithm": {"const": "ed25519"},
        "public_key": {"$ref": "#/$defs/hex32"},
        "fingerprint": {"$ref": "#/$defs/fingerprint"},
        "created": {"$ref": "#/$defs/time"},
        "introduced_by": {"$ref": "#/$defs/fingerprint"},
        "signature": {"$ref": "#/$defs/signature"},
    },
}

LOG_ENTRY_SCHEMA = {
    "type": "object",
    "required": ["seq", "time", "station", "actor", "operator", "tool", "event",
                 "object", "details", "prev", "key", "signature"],
    "additionalProperties": False,
    "$defs": _DEFS,
    "properties": {
        "seq": {"type": "integer", "minimum": 1, "maximum": 9007199254740991},
        "time": {"$ref": "#/$defs/time"},
        "station": {"type": "string"},
        "actor": {"type": "string"},
        "operator": {"$ref": "#/$defs/optString"},
        "tool": {"type": "string"},
        "event": {"type": "string"},
        "object": {"oneOf": [{"$ref": "#/$defs/hex32"}, {"type": "null"}]},
        "details": {},
        "prev": {"$ref": "#/$defs/hex32"},
        "key": {"$ref": "#/$defs/fingerprint"},
        "signature": {"$ref": "#/$defs/signature"},
    },
}

_OPT_TIME = {"oneOf": [{"$ref": "#/$defs/time"}, {"type": "null"}]}

MANIFEST_SCHEMA = {
    "type": "object",
    "required": ["manifest", "signature"],
    "additionalProperties": False,
    "$defs": {
        "hex32": _DEFS["hex32"],
        "time": _DEFS["time"],
        "localTime": {"type": "string",
                      "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"},
        "optString": _DEFS["optString"],
        "event": {
            "type": "object",
            "required": ["type", "time", "outcome"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["capture", "ingestion", "message digest calculation",
                                  "fixity check", "migration",
                                  "digital signature generation",
                                  "digital signature validation", "redaction"]},
                "time": {"$ref": "#/$defs/time"},
                "outcome": {"enum": ["success", "failure"]},
                "detail": {"type": "string"},
            },
        },
        "track": {
            "type": "object",
            "required": ["id", "kind", "codec", "samples", "keyframes", "duration_s"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 0},
                "kind": {"enum": ["video", "audio", "subtitle", "timecode", "data"]},
                "codec": {"$ref": "#/$defs/optString"},
                "samples": {"type": "integer", "minimum": 0},
                "keyframes": {"type": "integer", "minimum": 0},
                "duration_s": {"type": ["number", "null"]},
                "content_blake3": {"$ref": "#/$defs/hex32"},
                "params_blake3": {"$ref": "#/$defs/hex32"},
            },
        },
        "fingerprint": _DEFS["fingerprint"],
        "signature": _DEFS["signature"],
        "proofTrack": {
            "type": "object",
            "required": ["output_stream", "kind", "unit", "source_units", "output_units",
                         "matched"],
            "additionalProperties": False,
            "properties": {
                "output_stream": {"type": "integer", "minimum": 0},
                "kind": {"type": "string"},
                "unit": {"enum": ["packets", "frames"]},
                "source_units": {"type": ["integer", "null"], "minimum": 0},
                "output_units": {"type": "integer", "minimum": 0},
                "matched": {"type": "integer", "minimum": 0},
                "coverage": {"type": "array",
                             "items": {"type": "array",
                                       "items": {"type": "integer", "minimum": 0},
                                       "minItems": 3, "maxItems": 3}},
            },
        },
        # §10: how a derivative was made.
        "derivation": {
            "type": "object",
            "required": ["sources", "profile", "parameters", "software", "proof"],
            "additionalProperties": False,
            "properties": {
                "sources": {"type": "array", "items": {"$ref": "#/$defs/hex32"},
                            "minItems": 1},
                "profile": {"type": "string"},
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                "software": {"type": "object", "required": ["tool", "ffmpeg"],
                             "additionalProperties": False,
                             "properties": {"tool": {"type": "string"},
                                            "ffmpeg": {"type": "string"}}},
                "proof": {"type": "object", "required": ["kind", "result", "tracks"],
                          "additionalProperties": False,
                          "properties": {
                              "kind": {"enum": ["packets", "frames"]},
                              "result": {"enum": ["packets_matched", "identical", "lossy"]},
                              "tracks": {"type": "array",
                                         "items": {"$ref": "#/$defs/proofTrack"}}}},
            },
        },
    },
    "properties": {
        "manifest": {
            "type": "object",
            "required": ["schema", "object", "original", "media", "recording",
                         "collection", "events"],
            "additionalProperties": False,
            # §4: version 1 carries `derived` and no `derivation`; version 2
            # carries no `derived`.
            "if": {"properties": {"schema": {"const": "custody.manifest/1"}}},
            "then": {"required": ["derived"], "not": {"required": ["derivation"]}},
            "else": {"not": {"required": ["derived"]}},
            "properties": {
                "schema": {"enum": ["custody.manifest/1", "custody.manifest/2"]},
                "derivation": {"$ref": "#/$defs/derivation"},
                "object": {
                    "type": "object",
                    "required": ["size", "blake3", "sha256", "tree_leaf_size", "tree"],
                    "additionalProperties": False,
                    "properties": {
                        "size": {"type": "integer", "minimum": 0},
                        "blake3": {"$ref": "#/$defs/hex32"},
                        "sha256": {"$ref": "#/$defs/hex32"},
                        "device_md5": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "tree_leaf_size": {"type": "integer", "minimum": 1024},
                        "tree": {"type": "string"},
                    },
                },
                "original": {
                    "type": "object",
                    "required": ["name", "path"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "path": {"type": "string"},
                        "path_bytes": {"type": "string",
                                       "pattern": "^([0-9a-f]{2})+$"},
                        "mtime": {"$ref": "#/$defs/time"},
                    },
                },
                "media": {
                    "type": ["object", "null"],
                    "required": ["container", "duration_s", "tracks", "warnings"],
                    "additionalProperties": False,
                    "properties": {
                        "container": {"type": "string"},
                        "duration_s": {"type": ["number", "null"]},
                        "tracks": {"type": "array", "items": {"$ref": "#/$defs/track"}},
                        "warnings": {"type": "array", "items": {"type": "string"}},
                        "error": {"type": "string"},
                        "missing_samples": {"type": "integer", "minimum": 0},
                    },
                },
                "recording": {
                    "type": "object",
                    "required": ["start", "end", "device_serial", "officer", "unit",
                                 "sources", "location"],
                    "additionalProperties": False,
                    "properties": {
                        "start": _OPT_TIME,
                        "end": _OPT_TIME,
                        "start_local": {"$ref": "#/$defs/localTime"},
                        "device_serial": {"$ref": "#/$defs/optString"},
                        "make": {"type": "string"},
                        "model": {"type": "string"},
                        "firmware": {"type": "string"},
                        "officer": {"$ref": "#/$defs/optString"},
                        "unit": {"$ref": "#/$defs/optString"},
                        "sources": {"type": "object",
                                    "additionalProperties": {"type": "string"}},
                        "location": {
                            "type": ["object", "null"],
                            "required": ["lat", "lon", "alt"],
                            "properties": {
                                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                                "alt": {"type": ["number", "null"]},
                            },
                            "additionalProperties": False,
                        },
                    },
                },
                "collection": {
                    "type": "object",
                    "required": ["station", "operator", "time", "tool", "station_key"],
                    "additionalProperties": False,
                    "properties": {
                        "station": {"type": "string"},
                        "operator": {"$ref": "#/$defs/optString"},
                        "time": {"$ref": "#/$defs/time"},
                        "tool": {"type": "string"},
                        "station_key": {"$ref": "#/$defs/fingerprint"},
                    },
                },
                "events": {"type": "array", "items": {"$ref": "#/$defs/event"},
                           "minItems": 1},
                "derived": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind", "source_blake3", "blake3", "parameters"],
                        "properties": {
                            "kind": {"type": "string"},
                            "source_blake3": {"$ref": "#/$defs/hex32"},
                            "blake3": {"$ref": "#/$defs/hex32"},
                            "parameters": {},
                        },
                        "additionalProperties": False,
                    },
                },
            },
        },
        "signature": {
            "type": "object",
            "required": ["algorithm", "key", "value"],
            "additionalProperties": False,
            "properties": {
                "algorithm": {"const": "ed25519"},
                "key": {"$ref": "#/$defs/fingerprint"},
                "value": {"$ref": "#/$defs/signature"},
            },
        },
    },
}


class SchemaError(Exception):
    pass


def _json_type_ok(value: Any, typ: str) -> bool:
    if typ == "object":
        return isinstance(value, dict)
    if typ == "array":
        return isinstance(value, list)
    if typ == "string":
        return isinstance(value, str)
    if typ == "null":
        return value is None
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        # Canonical JSON writes integral values without a fraction, and Python
        # parses those as int, so an integer is a Python int (never a bool).
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise SchemaError(f"schema uses unknown type {typ!r}")


_PATTERN_CACHE: dict[str, re.Pattern] = {}


def _pattern(p: str) -> re.Pattern:
    rx = _PATTERN_CACHE.get(p)
    if rx is None:
        # ECMA-262 '$' (no multiline) matches only at the very end; Python's
        # '$' also matches before a final '\n', so use '\Z' instead.
        src = p[:-1] + r"\Z" if p.endswith("$") else p
        rx = re.compile(src)
        _PATTERN_CACHE[p] = rx
    return rx


def validate(value: Any, schema: dict, root: dict, path: str = "$") -> None:
    """A small JSON Schema (2020-12 subset) validator: raises SchemaError."""
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"unsupported $ref {ref}")
        validate(value, root["$defs"][ref[len("#/$defs/"):]], root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_json_type_ok(value, t) for t in types):
            raise SchemaError(f"{path}: expected {' or '.join(types)}, got {_describe(value)}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        raise SchemaError(f"{path}: must be {json.dumps(schema['const'])}")
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        raise SchemaError(f"{path}: {json.dumps(value)[:80]} is not one of the allowed values")
    if "if" in schema:
        try:
            validate(value, schema["if"], root, path)
            branch = schema.get("then")
        except SchemaError:
            branch = schema.get("else")
        if branch is not None:
            validate(value, branch, root, path)
    if "not" in schema:
        try:
            validate(value, schema["not"], root, path)
        except SchemaError:
            pass
        else:
            raise SchemaError(f"{path}: matches a form that is not allowed")
    if "oneOf" in schema:
        matches = 0
        for sub in schema["oneOf"]:
            try:
                validate(value, sub, root, path)
                matches += 1
            except SchemaError:
                pass
        if matches != 1:
            raise SchemaError(f"{path}: matches {matches} of the allowed forms, not exactly one")
    if isinstance(value, str) and "pattern" in schema:
        if not _pattern(schema["pattern"]).search(value):
            raise SchemaError(f"{path}: {value[:80]!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{path}: {value} is above {schema['maximum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaError(f"{path}: member {name!r} is missing")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, sub in value.items():
            if name in props:
                validate(sub, props[name], root, f"{path}.{name}")
            elif extra is False:
                raise SchemaError(f"{path}: unknown member {name!r}")
            elif isinstance(extra, dict):
                validate(sub, extra, root, f"{path}.{name}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise SchemaError(f"{path}: needs at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaError(f"{path}: has more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                validate(item, schema["items"], root, f"{path}[{i}]")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


# ---------------------------------------------------------------------------
# Building blocks (§1)
# ---------------------------------------------------------------------------

class FormatError(Exception):
    """A JSON file that does not parse, is not canonical, or breaks its schema."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def parse_canonical(data: bytes, schema: dict | None = None) -> Any:
    """Parse stored bytes, require them to be RFC 8785 canonical and (when a
    schema is given) to match the schema. Raises FormatError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8: {e}") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise FormatError(f"not JSON: {e}") from None
    try:
        canon = canonical(value)
    except Exception as e:  # rfc8785 domain errors (|integer| > 2^53-1, lone surrogates, ...)
        raise FormatError(f"cannot be canonicalised: {e}") from None
    if canon != data:
        raise FormatError("not in canonical JSON (RFC 8785) form")
    if schema is not None:
        try:
            validate(value, schema, schema)
        except SchemaError as e:
            raise FormatError(f"does not match its schema: {e}") from None
    return value


def fingerprint_of(public_key: bytes) -> str:
    return _blake3.blake3(public_key).digest()[:16].hex()


def blake3_hex(data: bytes) -> str:
    return _blake3.blake3(data).hexdigest()


def ed25519_verify(public_key: bytes, signature_hex: str, message: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def detached_message(obj: dict) -> bytes:
    """§1: the canonical JSON of the parsed object without its `signature`."""
    return canonical({k: v for k, v in obj.items() if k != "signature"})


def is_tmp_name(name: str) -> bool:
    """§2: names beginning with '.' and containing '.tmp-' are writes in progress."""
    return name.startswith(".") and ".tmp-" in name


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# The verifier
# ---------------------------------------------------------------------------

class CannotRun(Exception):
    pass


class Verifier:
    def __init__(self, store: str, anchors: list[bytes], anchor_file: bytes | None,
                 fast: bool) -> None:
        self.store = store
        self.anchor_keys = anchors
        self.anchor_file = anchor_file
        self.fast = fast
        self.failures: list[dict] = []
        self.warnings: list[dict] = []
        # fingerprint -> public key bytes, for every key known (anchors, records)
        self.public_keys: dict[str, bytes] = {}
        self.trusted: set[str] = set()
        # per-line BLAKE3 of the log lines that checked out
        self.line_hashes: list[str] = []
        self.entries_ok = False  # every line passed §5.2
        self.log_failed = False  # any §5.2 / §5.3 / anchor_mismatch failure
        self.registered: set[str] = set()  # R (complete only when the log holds)
        self.registered_at: dict[str, int] = {}  # h -> seq of its first registration
        self.ingested: set[str] = set()  # registered by an `ingestion` entry
        # §10: h -> (seq, details.sources) of its first `derivation` entry
        self.derived_by: dict[str, tuple[int, Any]] = {}

    # -- reporting ---------------------------------------------------------
    LOG_FAILURES = {"log_format", "log_untrusted_key", "log_signature", "log_sequence",
                    "log_chain", "head_missing", "head_format", "head_signature",
                    "log_truncated", "head_mismatch", "anchor_mismatch"}

    def fail(self, name: str, message: str, obj: str | None = None,
             seq: int | None = None) -> None:
        if name in self.LOG_FAILURES:
            self.log_failed = True
        self.failures.append({"name": name, "object": obj, "seq": seq, "message": message})

    def warn(self, name: str, message: str, obj: str | None = None,
             seq: int | None = None) -> None:
        self.warnings.append({"name": name, "object": obj, "seq": seq, "message": message})

    def p(self, *parts: str) -> str:
        return os.path.join(self.store, *parts)

    # -- §2 marker ---------------------------------------------------------
    def check_marker(self) -> None:
        path = self.p("custody-store.json")
        if not os.path.isdir(self.store):
            raise CannotRun(f"{self.store} is not a directory")
        try:
            data = read_file(path)
        except FileNotFoundError:
            raise CannotRun("no custody-store.json: not a Custody store") from None
        except OSError as e:
            raise CannotRun(f"cannot read custody-store.json: {e}") from None
        try:
            value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise CannotRun(f"custody-store.json does not parse: {e}") from None
        if not isinstance(value, dict) or value.get("format") != STORE_FORMAT:
            fmt = value.get("format") if isinstance(value, dict) else None
            raise CannotRun(f"unknown store format {fmt!r} (this verifier reads {STORE_FORMAT})")
        # §2: the marker must be exactly the canonical JSON of {"format": ...};
        # anything else is not a store this version reads.
        try:
            parse_canonical(data)
        except FormatError as e:
            raise CannotRun(f"custody-store.json {e}") from None

    # -- §3 keys and trust ---------------------------------------------------
    def check_keys(self) -> None:
        for key in self.anchor_keys:
            fp = fingerprint_of(key)
            self.public_keys[fp] = key
            self.trusted.add(fp)

        records: dict[str, dict] = {}
        keys_dir = self.p("keys")
        names = sorted(os.listdir(keys_dir)) if os.path.isdir(keys_dir) else []
        for name in names:
            if is_tmp_name(name):
                continue
            if not name.endswith(".json"):
                # §3: every file in keys/ is a key record.
                self.fail("key_record_format", f"keys/{name} is not a key record")
                continue
            path = os.path.join(keys_dir, name)
            label = f"keys/{name}"
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                self.fail("key_record_format", f"{label} is not a regular file")
                continue
            try:
                rec = parse_canonical(read_file(path), KEY_SCHEMA)
            except FormatError as e:
                self.fail("key_record_format", f"{label} {e}")
                continue
            except OSError as e:
                self.fail("key_record_format", f"{label} cannot be read: {e}")
                continue
            pub = bytes.fromhex(rec["public_key"])
            fp = fingerprint_of(pub)
            if rec["fingerprint"] != fp:
                self.fail("key_record_format",
                          f"{label}: fingerprint {rec['fingerprint']} does not match its "
                          f"public key (whose fingerprint is {fp})")
                continue
            if name != f"{fp}.json":
                self.fail("key_record_format",
                          f"{label}: file name does not match fingerprint {fp}")
                continue
            try:
                Ed25519PublicKey.from_public_bytes(pub)
            except ValueError as e:
                self.fail("key_record_format", f"{label}: not an ed25519 public key: {e}")
                continue
            records[fp] = rec
            self.public_keys.setdefault(fp, pub)

        store_trusted: set[str] = set()
        if not self.anchor_keys:
            # §3: without anchors, trust every self-introduced record, and say so.
            for fp, rec in records.items():
                if rec["introduced_by"] == fp:
                    self.trusted.add(fp)
                    store_trusted.add(fp)
            self.warn("trust_store_key",
                      "no trust anchor given: trusting the store's own self-introduced keys "
                      f"({', '.join(sorted(store_trusted)) or 'none found'}); this proves the "
                      "store is intact, not who made it")

        # Chain: a record introduced by a trusted key whose signature verifies.
        chained: set[str] = set()
        changed = True
        while changed:
            changed = False
            for fp, rec in records.items():
                if fp in self.trusted:
                    continue
                intro = rec["introduced_by"]
                if intro in self.trusted and ed25519_verify(
                        self.public_keys[intro], rec["signature"], detached_message(rec)):
                    self.trusted.add(fp)
                    chained.add(fp)
                    changed = True

        # A trusted key's own record, when present, must verify under its
        # introducer. (Chained records were verified while chaining.)
        for fp, rec in records.items():
            if fp not in self.trusted or fp in chained:
                continue
            intro = rec["introduced_by"]
            intro_key = self.public_keys.get(intro)
            if intro_key is None:
                # §3: an introducer the store does not hold is a warning.
                self.warn("key_introducer_unknown",
                          f"keys/{fp}.json: introducer {intro} is unknown, so its "
                          "signature cannot be checked", )
            elif not ed25519_verify(intro_key, rec["signature"], detached_message(rec)):
                self.fail("key_record_signature",
                          f"keys/{fp}.json: signature by introducer {intro} does not verify")

        for fp, rec in records.items():
            if fp not in self.trusted:
                intro = rec["introduced_by"]
                why = ("it introduces itself and is not a trust anchor" if intro == fp else
                       f"its introducer {intro} is not trusted" if intro not in self.trusted else
                       f"its signature by the trusted introducer {intro} does not verify")
                # SPEC GAP: a well-formed record whose trusted introducer's
                # signature does not verify is read as "does not chain to an
                # anchor" (warning), as §3 words it, not as key_record_signature.
                self.warn("key_untrusted", f"keys/{fp}.json does not chain to a trust anchor: {why}")

    def signed_by_trusted(self, fp: str, signature: str, message: bytes) -> str | None:
        """None when fine, else 'untrusted' or 'signature'."""
        if fp not in self.trusted:
            return "untrusted"
        if not ed25519_verify(self.public_keys[fp], signature, message):
            return "signature"
        return None

    # -- §5 the log ------------------------------------------------------------
    def check_log(self) -> None:
        path = self.p("custody.log")
        n = 0
        prev_hash = ZERO_HASH
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            # SPEC GAP: a missing custody.log is read as an empty log.
            f = None
        except OSError as e:
            self.fail("log_format", f"custody.log cannot be read: {e}", seq=1)
            return
        if f is not None:
            with f:
                while True:
                    raw = f.readline(MAX_LOG_LINE + 2)
                    if not raw:
                        break
                    n += 1
                    if not self.check_log_line(n, raw, prev_hash):
                        return
                    prev_hash = self.line_hashes[-1]
        self.entries_ok = True
        self.check_head(n)

    def check_log_line(self, n: int, raw: bytes, prev_hash: str) -> bool:
        if not raw.endswith(b"\n"):
            if len(raw) > MAX_LOG_LINE:
                self.fail("log_format", f"line {n} is longer than 1 MiB", seq=n)
            else:
                self.fail("log_format", f"line {n} does not end with a newline", seq=n)
            return False
        line = raw[:-1]
        # SPEC GAP: "at most 1 MiB" is read as the line without its '\n'.
        if len(line) > MAX_LOG_LINE:
            self.fail("log_format", f"line {n} is longer than 1 MiB", seq=n)
            return False
        try:
            entry = parse_canonical(line, LOG_ENTRY_SCHEMA)
        except FormatError as e:
            self.fail("log_format", f"line {n} {e}", seq=n)
            return False
        problem = self.signed_by_trusted(entry["key"], entry["signature"], detached_message(entry))
        if problem == "untrusted":
            self.fail("log_untrusted_key",
                      f"line {n} is signed by key {entry['key']}, which is not trusted", seq=n)
            return False
        if problem == "signature":
            self.fail("log_signature", f"line {n}: signature by {entry['key']} does not verify",
                      seq=n)
            return False
        if entry["seq"] != n:
            self.fail("log_sequence", f"line {n} carries seq {entry['seq']}", seq=n)
            return False
        if entry["prev"] != prev_hash:
            self.fail("log_chain",
                      f"line {n}: prev {entry['prev']} is not BLAKE3 of the previous line "
                      f"({prev_hash})", seq=n)
            return False
        self.line_hashes.append(blake3_hex(line))
        if entry["event"] in ("ingestion", "derivation") and entry["object"] is not None:
            h = entry["object"]
            self.registered.add(h)
            self.registered_at.setdefault(h, n)
            if entry["event"] == "ingestion":
                self.ingested.add(h)
            else:
                details = entry["details"]
                sources = details.get("sources") if isinstance(details, dict) else None
                self.derived_by.setdefault(h, (n, sources))
        return True

    def check_head(self, n: int) -> None:
        path = self.p("custody.log.head")
        try:
            data = read_file(path)
        except FileNotFoundError:
            if n > 0:
                self.fail("head_missing", f"the log has {n} entries but no custody.log.head",
                          seq=n)
            return
        except OSError as e:
            self.fail("head_format", f"custody.log.head cannot be read: {e}")
            return
        try:
            head = parse_canonical(data, HEAD_SCHEMA)
        except FormatError as e:
            self.fail("head_format", f"custody.log.head {e}")
            return
        problem = self.signed_by_trusted(head["key"], head["signature"], detached_message(head))
        if problem is not None:
            why = ("is signed by untrusted key " if problem == "untrusted"
                   else "signature does not verify for key ") + head["key"]
            self.fail("head_signature", f"custody.log.head {why}")
            return
        s, h = head["seq"], head["hash"]
        if s == n and h == self.line_hashes[n - 1]:
            return
        if n >= 2 and s == n - 1 and h == self.line_hashes[n - 2]:
            self.warn("head_behind",
                      f"the head names entry {s} of {n}: the last append stopped between its "
                      "entry and its head", seq=n)
            return
        if s > n:
            self.fail("log_truncated",
                      f"the head names entry {s} but the log has {n}: entries {n + 1}..{s} "
                      "were removed from the end", seq=n + 1)
            return
        # SPEC GAP: `S = N - 1` with a hash that is not line N-1's is read as
        # head_mismatch (the document lists only the seq condition).
        self.fail("head_mismatch",
                  f"the head (seq {s}, hash {h}) does not match the log ({n} entries)", seq=s)

    def check_anchor(self) -> None:
        if self.anchor_file is None:
            return
        data = self.anchor_file
        # `custody log anchor` prints the head followed by a newline.
        # SPEC GAP: the document does not say whether an anchor file must be
        # canonical or may carry surrounding whitespace; whitespace is allowed.
        try:
            anchor = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
            validate(anchor, HEAD_SCHEMA, HEAD_SCHEMA)
            message = detached_message(anchor)
        except (UnicodeDecodeError, ValueError, RecursionError, SchemaError) as e:
            self.fail("anchor_invalid", f"the anchor is not a log head: {e}")
            return
        except Exception as e:  # canonicalisation domain errors
            self.fail("anchor_invalid", f"the anchor cannot be canonicalised: {e}")
            return
        problem = self.signed_by_trusted(anchor["key"], anchor["signature"], message)
        if problem is not None:
            why = ("is signed by untrusted key " if problem == "untrusted"
                   else "signature does not verify for key ") + anchor["key"]
            self.fail("anchor_invalid", f"the anchor {why}")
            return
        s, h = anchor["seq"], anchor["hash"]
        if s <= len(self.line_hashes):
            if self.line_hashes[s - 1] != h:
                self.fail("anchor_mismatch",
                          f"log line {s} does not hash to the anchor's {h}", seq=s)
        elif self.entries_ok:
            self.fail("anchor_mismatch",
                      f"the anchor names entry {s} but the log has only "
                      f"{len(self.line_hashes)}: the log was rolled back", seq=s)
        # SPEC GAP: when the log failed before line S, line S is not checked,
        # so the anchor cannot be compared (the log failure already fails).

    # -- §2 objects ------------------------------------------------------------
    def scan_objects(self) -> tuple[set[str], set[str]]:
        objects: set[str] = set()
        trees: set[str] = set()
        root = self.p("objects")
        if not os.path.isdir(root):
            return objects, trees
        for top in sorted(os.scandir(root), key=lambda e: e.name):
            if is_tmp_name(top.name):
                continue
            if not (top.is_dir(follow_symlinks=False) and HEX2.fullmatch(top.name)):
                self.fail("store_unknown_file", f"objects/{top.name} is not part of the store")
                continue
            for entry in sorted(os.scandir(top.path), key=lambda e: e.name):
                name = entry.name
                rel = f"objects/{top.name}/{name}"
                if is_tmp_name(name):
                    continue
                regular = entry.is_file(follow_symlinks=False)
                if regular and HEX64.fullmatch(name) and name[:2] == top.name:
                    objects.add(name)
                elif (regular and name.endswith(".b3tree") and HEX64.fullmatch(name[:-7])
                      and name[:2] == top.name):
                    trees.add(name[:-7])
                else:
                    self.fail("store_unknown_file", f"{rel} is not part of the store")
        return objects, trees

    # -- §4 manifests ----------------------------------------------------------
    def check_manifests(self) -> tuple[set[str], dict[str, dict]]:
        names: set[str] = set()
        good: dict[str, dict] = {}
        mdir = self.p("manifests")
        if not os.path.isdir(mdir):
            return names, good
        for name in sorted(os.listdir(mdir)):
            if is_tmp_name(name):
                continue
            if not (name.endswith(".json") and HEX64.fullmatch(name[:-5])):
                # §2: any other file under manifests/ is store_unknown_file.
                self.fail("store_unknown_file", f"manifests/{name}: not a manifest")
                continue
            h = name[:-5]
            path = os.path.join(mdir, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                # §2: a symbolic link (or anything not a regular file) is not a
                # manifest: manifest_format, and it does not count in M.
                self.fail("manifest_format", f"manifests/{name} is not a regular file", obj=h)
                continue
            names.add(h)
            try:
                doc = parse_canonical(read_file(path), MANIFEST_SCHEMA)
            except FormatError as e:
                self.fail("manifest_format", f"manifests/{name} {e}", obj=h)
                continue
            except OSError as e:
                self.fail("manifest_format", f"manifests/{name} cannot be read: {e}", obj=h)
                continue
            m, s = doc["manifest"], doc["signature"]
            try:
                message = canonical(m)
            except Exception as e:  # cannot happen for a canonical document
                self.fail("manifest_format", f"manifests/{name}: {e}", obj=h)
                continue
            authentic = True
            problem = self.signed_by_trusted(s["key"], s["value"], message)
            if problem == "untrusted":
                self.fail("manifest_untrusted_key",
                          f"manifests/{name} is signed by key {s['key']}, which is not trusted",
                          obj=h)
                authentic = False
            elif problem == "signature":
                self.fail("manifest_signature",
                          f"manifests/{name}: signature by {s['key']} does not verify", obj=h)
                authentic = False
            if m["object"]["blake3"] != h:
                self.fail("manifest_misfiled",
                          f"manifests/{name} describes object {m['object']['blake3']}", obj=h)
                # SPEC GAP: a misfiled manifest does not describe object h, so
                # the object is not compared with it.
                continue
            # SPEC GAP: §8 does not say whether an object is compared with a
            # manifest whose signature fails or whose key is untrusted. Its
            # claims are not authentic, so the bytes are not judged by them
            # (that would blame the object for an edit of the manifest).
            if authentic:
                good[h] = m
        return names, good

    # -- object bytes ---------------------------------------------------------
    def check_object(self, h: str, m: dict) -> None:
        obj = m["object"]
        path = self.p("objects", h[:2], h)
        try:
            size = os.lstat(path).st_size
        except OSError as e:
            self.fail("object_changed", f"object cannot be read: {e}", obj=h)
            return
        if size != obj["size"]:
            self.fail("object_changed",
                      f"object is {size} bytes, its manifest says {obj['size']}"
                      + self.tree_note(h, m), obj=h)
            return
        b3 = _blake3.blake3()
        sha = None if self.fast else hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(READ_CHUNK)
                    if not chunk:
                        break
                    b3.update(chunk)
                    if sha is not None:
                        sha.update(chunk)
        except OSError as e:
            self.fail("object_changed", f"object cannot be read: {e}", obj=h)
            return
        got = b3.hexdigest()
        if got != obj["blake3"]:
            self.fail("object_changed",
                      f"object's BLAKE3 is {got}, its manifest says {obj['blake3']}"
                      + self.tree_note(h, m), obj=h)
            return
        if sha is not None and sha.hexdigest() != obj["sha256"]:
            self.fail("object_sha256",
                      f"BLAKE3 matches but SHA-256 is {sha.hexdigest()}, the manifest says "
                      f"{obj['sha256']}", obj=h)

    def tree_note(self, h: str, m: dict) -> str:
        if self.tree_problem(h, m) is None:
            return (" (the chunk tree is intact, but this verifier does not compute BLAKE3 "
                    "chaining values, so it does not locate the changed byte ranges; "
                    "`custody locate` does)")
        return ""

    # -- §6 chunk trees (header only) ------------------------------------------
    def tree_problem(self, h: str, m: dict | None) -> str | None:
        rel = f"objects/{h[:2]}/{h}.b3tree"
        if m is not None and m["object"]["tree"] != rel:
            # SPEC GAP: §4 says `tree` is the tree's path relative to the store,
            # §2 fixes that path; any other path is not followed.
            return f"the manifest names tree {m['object']['tree']!r}, not {rel}"
        path = self.p(rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return f"{rel} is missing"
        except OSError as e:
            return f"{rel} cannot be read: {e}"
        if not stat.S_ISREG(st.st_mode):
            return f"{rel} is not a regular file"
        try:
            with open(path, "rb") as f:
                header = f.read(64)
        except OSError as e:
            return f"{rel} cannot be read: {e}"
        if len(header) < 64:
            return f"{rel} is shorter than its 64-byte header"
        if header[0:8] != b"CSTDYTRE":
            return f"{rel} has a wrong magic"
        if int.from_bytes(header[8:10], "little") != 1:
            return f"{rel} has an unknown version"
        log2 = header[10]
        if not 10 <= log2 <= 24:
            return f"{rel} has leaf size 2^{log2}, outside 1 KiB..16 MiB"
        if header[11:16] != b"\0" * 5:
            return f"{rel} has non-zero reserved bytes"
        leaf = 1 << log2
        size = int.from_bytes(header[16:24], "little")
        leaves = int.from_bytes(header[24:32], "little")
        root = header[32:64].hex()
        if m is not None:
            want_size, want_root = m["object"]["size"], m["object"]["blake3"]
            if m["object"]["tree_leaf_size"] != leaf:
                return f"{rel} has leaf size {leaf}, the manifest says {m['object']['tree_leaf_size']}"
        else:
            want_size, want_root = self.object_size(h), h
        if size != want_size:
            return f"{rel} describes {size} bytes, not {want_size}"
        if leaves != -(-size // leaf):
            return f"{rel} has {leaves} leaves, not ceil({size}/{leaf})"
        if root != want_root:
            return f"{rel} has root {root}, not {want_root}"
        if st.st_size != 64 + 32 * leaves:
            return f"{rel} is {st.st_size} bytes, not {64 + 32 * leaves}"
        return None

    def object_size(self, h: str) -> int | None:
        try:
            return os.lstat(self.p("objects", h[:2], h)).st_size
        except OSError:
            return None

    # -- §7 catalog --------------------------------------------------------------
    def check_catalog(self, manifests: set[str]) -> None:
        path = self.p("catalog.sqlite")
        if not os.path.exists(path):
            self.warn("catalog_missing", "catalog.sqlite is missing (it can be rebuilt)")
            return
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as e:
            self.fail("catalog_mismatch", f"catalog.sqlite cannot be opened: {e}")
            return
        try:
            rows = con.execute("SELECT blake3 FROM registrations").fetchall()
        except sqlite3.Error as e:
            self.fail("catalog_mismatch", f"catalog.sqlite cannot be read: {e}")
            return
        finally:
            con.close()
        catalog = {r[0] for r in rows}
        for h in sorted(manifests - catalog):
            self.fail("catalog_mismatch", "manifest has no row in the catalog", obj=h)
        for h in sorted(catalog - manifests, key=repr):
            self.fail("catalog_mismatch",
                      f"catalog row {h!r} has no manifest",
                      obj=h if isinstance(h, str) and HEX64.fullmatch(h) else None)

    # -- §8 everything -----------------------------------------------------------
    def run(self) -> None:
        self.check_marker()
        self.check_keys()
        self.check_log()
        self.check_anchor()
        objects, trees = self.scan_objects()
        manifests, good = self.check_manifests()

        for h in sorted(manifests):
            if h not in objects:
                self.fail("object_missing", "the manifest's object is not in objects/", obj=h)
            elif h in good:
                self.check_object(h, good[h])
        if self.fast:
            # SPEC GAP: §8 says skipping SHA-256 "is reported" but names no
            # warning; this verifier uses `sha256_skipped`.
            self.warn("sha256_skipped", "--fast: SHA-256 was not checked (BLAKE3 still was)")

        # Trees are checked for the objects that are checked against an
        # authentic manifest (the tree serves to locate changes in those).
        for h in sorted(objects & good.keys()):
            problem = self.tree_problem(h, good[h])
            if problem is not None:
                self.warn("tree_missing", f"{problem}; the whole object is re-hashed instead",
                          obj=h)

        registered = self.registered
        # SPEC GAP: R is "known only when the log checks out to its end" (§8).
        # A head or anchor failure (§5.3: entries removed from the end, a head
        # that does not match, a rolled-back tail) means the end of the log is
        # not established either, so R is taken as unknown then too.
        # anchor_invalid says nothing about the log and does not count.
        if not self.log_failed:
            for h in sorted(manifests - registered):
                self.fail("manifest_without_registration",
                          "no ingestion or derivation entry of the log registers this object",
                          obj=h)
            # §8, §10: the right kind of registering entry.
            for h in sorted((manifests & registered) & good.keys()):
                derivation = good[h].get("derivation")
                if derivation is None:
                    if h not in self.ingested:
                        self.fail("manifest_without_registration",
                                  "a collected file registered only by a derivation entry",
                                  obj=h)
                elif h not in self.derived_by:
                    self.fail("manifest_without_registration",
                              "a derivative that no derivation entry registers", obj=h)
                elif self.derived_by[h][1] != derivation["sources"]:
                    self.fail("derivation_log_mismatch",
                              "its derivation entry names other sources than its manifest",
                              obj=h, seq=self.derived_by[h][0])
            for h in sorted(registered - manifests - objects):
                self.fail("registration_missing",
                          "the log registers this object but neither its manifest nor its "
                          "bytes are in the store", obj=h, seq=self.registered_at[h])
        else:
            self.warn("registrations_unchecked",
                      "the log failed, so manifest_without_registration and "
                      "registration_missing could not be decided")
        for h in sorted(objects - manifests):
            # SPEC GAP: when the log failed, R is only known up to the failure;
            # an object registered there is `manifest_missing`, any other
            # `object_without_manifest`.
            if h in registered:
                self.fail("manifest_missing",
                          "the object is registered in the log but has no manifest "
                          "(ingesting the file again completes it)", obj=h,
                          seq=self.registered_at[h])
            else:
                self.fail("object_without_manifest",
                          "the object has neither a manifest nor a log registration", obj=h)

        self.check_derivations(manifests, good)
        self.check_catalog(manifests)

    # -- §10 derivations -----------------------------------------------------------
    def check_derivations(self, manifests: set[str], good: dict[str, dict]) -> None:
        for h in sorted(good):
            derivation = good[h].get("derivation")
            if derivation is None:
                continue
            for s in derivation["sources"]:
                if s not in manifests:
                    self.fail("derivation_source_missing",
                              f"derived from {s}, which has no manifest in this store", obj=h)
                elif s not in good:
                    self.fail("derivation_source_unverified",
                              f"derived from {s}, whose manifest does not verify", obj=h)


def parse_args(argv: list[str]) -> argparse.Namespace:
    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # exit 2 with a JSON object
            raise CannotRun(f"bad arguments: {message}")

    ap = Parser(description="Verify a Custody evidence store (format custody.store/1).")
    ap.add_argument("store")
    ap.add_argument("--public-key", action="append", default=[], metavar="HEX",
                    help="a trusted station public key (64 hex digits); may be repeated")
    ap.add_argument("--anchor", metavar="FILE", help="a log head kept outside the store")
    ap.add_argument("--fast", action="store_true", help="skip SHA-256")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        keys = []
        for k in args.public_key:
            k = k.strip().lower()
            if not HEX64.fullmatch(k):
                raise CannotRun(f"bad arguments: --public-key {k!r} is not 64 hex digits")
            try:
                Ed25519PublicKey.from_public_bytes(bytes.fromhex(k))
            except ValueError as e:
                raise CannotRun(f"bad arguments: --public-key {k}: {e}") from None
            keys.append(bytes.fromhex(k))
        anchor = None
        if args.anchor is not None:
            try:
                anchor = read_file(args.anchor)
            except OSError as e:
                raise CannotRun(f"bad arguments: cannot read anchor {args.anchor}: {e}") from None
        v = Verifier(args.store, keys, anchor, args.fast)
        v.run()
    except CannotRun as e:
        sys.stdout.write(json.dumps({"ok": False, "error": str(e), "failures": [],
                                     "warnings": []}) + "\n")
        return 2
    ok = not v.failures
    sys.stdout.write(json.dumps({"ok": ok, "failures": v.failures, "warnings": v.warnings})
                     + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

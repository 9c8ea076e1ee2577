#!/usr/bin/env python3
"""Probes files through the C library with ctypes (standard library only).

    python3 examples/python_ctypes.py PREFIX/lib/libcustody.so.0 CLIP.MP4 ...

Prints one probe JSON object per line; exit 1 if any file failed.
"""
import ctypes
import json
import sys

NO_MMAP = 8  # CUSTODY_PROBE_NO_MMAP


def load(path):
    lib = ctypes.CDLL(path)
    lib.custody_probe.argtypes = [ctypes.c_char_p, ctypes.c_uint32,
                                  ctypes.POINTER(ctypes.c_void_p)]
    lib.custody_probe.restype = ctypes.c_int
    lib.custody_string_free.argtypes = [ctypes.c_void_p]
    lib.custody_last_error.restype = ctypes.c_char_p
    lib.custody_version.restype = ctypes.c_char_p
    return lib


def probe(lib, path):
    """The probe of `path` as a dict; raises OSError with the library's message."""
    out = ctypes.c_void_p()
    status = lib.custody_probe(path.encode(), NO_MMAP, ctypes.byref(out))
    if status != 0:
        raise OSError(status, lib.custody_last_error().decode())
    try:
        return json.loads(ctypes.string_at(out.value).decode())
    finally:
        lib.custody_string_free(out)


def main():
    lib = load(sys.argv[1])
    failed = False
    for path in sys.argv[2:]:
        try:
            print(json.dumps(probe(lib, path), sort_keys=True))
        except OSError as e:
            print(f"{path}: {e.strerror}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Inside a worker: where its resident memory sits, by allocator (for bench/_memsnap.py).

- RSS by mapping kind from /proc/self/smaps: the brk heap (glibc's main arena), anonymous
  mappings (pymalloc's 1 MiB arenas, glibc's mmapped blocks, thread stacks) and files;
- glibc's own totals (mallinfo2): bytes in use and free inside its arenas, and mmapped blocks;
- pymalloc's totals (sys._debugmallocstats): blocks in use, free blocks in used pools, unused
  pools and the arenas' bytes.
Free bytes inside an allocator that stay resident are its overhead (fragmentation).
"""
from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def rss_by_mapping() -> dict[str, int]:
    """Resident bytes of this process by mapping kind: heap, anon, stack, file."""
    out = {"rss_heap": 0, "rss_anon": 0, "rss_stack": 0, "rss_file": 0}
    kind = "rss_file"
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5:  # a mapping's first line
                path = head[5].strip() if len(head) > 5 else ""
                kind = ("rss_heap" if path == "[heap]" else "rss_stack" if path == "[stack]"
                        else "rss_anon" if not path or path.startswith("[anon") else "rss_file")
            elif head[0] == "Rss:":
                out[kind] += int(head[1]) * 1024
    return out


def glibc() -> dict[str, int]:
    """mallinfo2(): glibc arenas' bytes in use, free, and blocks it mmapped (0s if absent)."""
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {"glibc_arena": info.arena, "glibc_in_use": info.uordblks,
            "glibc_free": info.fordblks, "glibc_top_free": info.keepcost,
            "glibc_mmapped": info.hblkhd}


_PYMALLOC = {
    "pymalloc_arenas": r"(\d+) arenas \* \d+ bytes/arena\s+=\s+([\d,]+)",
    "pymalloc_in_use": r"# bytes in allocated blocks\s+=\s+([\d,]+)",
    "pymalloc_free_blocks": r"# bytes in available blocks\s+=\s+([\d,]+)",
    "pymalloc_unused_pools": r"\d+ unused pools \* \d+ bytes\s+=\s+([\d,]+)",
}


def pymalloc() -> dict[str, int]:
    """pymalloc's bytes: arenas mapped, blocks in use, free blocks, unused pools."""
    with tempfile.TemporaryFile("w+") as tmp:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(tmp.fileno(), 2)  # _debugmallocstats writes to the C stderr
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read()
    out = {}
    for key, pattern in _PYMALLOC.items():
        m = re.search(pattern, text)
        if m:
            out[key] = int(m.groups()[-1].replace(",", ""))
    return out


def allocator_stats() -> dict[str, int]:
    """All of the above in one flat dict of byte counts."""
    return {**rss_by_mapping(), **glibc(), **pymalloc()}

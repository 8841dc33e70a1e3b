"""Which files an ingest argument names, and reading them as plain bytes whatever they are packed in.

Pools ship compressed (``.jsonl.gz``, ``.json.zst``) and as folders of shards, so a file is opened through its
compression (told by its first bytes, not only its name) as a stream, never inflated whole, and a folder stands
for the supported files directly inside it, in name order (subfolders are not read: a pool's train/test splits
often sit side by side and should not be mixed silently).
"""
from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO

FORMATS = (".json", ".jsonl", ".ndjson", ".parquet")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}


class FileFormatError(ValueError):
    """The file as a whole cannot be read (wrong encoding, not JSON at all); names the file."""


def compression(path: Path) -> str | None:
    """'gzip', 'zstd' or None, from the first bytes (a misnamed file is still read right)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def inner_suffix(path: Path) -> str:
    """The format suffix under any compression suffix: data.jsonl.gz -> .jsonl."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def source_name(path: Path) -> str:
    """The default source of a file: its name without format and compression suffixes (train.jsonl.gz -> train)."""
    name = path.name
    for suffix in reversed(path.suffixes):
        if suffix.lower() in COMPRESSIONS or suffix.lower() in FORMATS:
            name = name[:-len(suffix)]
        else:
            break
    return name or path.name


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed on the fly; buffered, so readline and peek work on every kind."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "zstd":
        try:
            import zstandard  # optional: only zstd pools need it
        except ImportError as exc:
            raise FileFormatError(f"{path}: zstd-compressed, and the zstandard package is not installed "
                                  "(pip install zstandard), or decompress it first (zstd -d)") from exc
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True),
                                 1 << 20)
    return open(path, "rb")


def skip_to(fh: BinaryIO, offset: int, chunk: int = 1 << 20) -> None:
    """Move a stream to ``offset``: a seek on a plain file, reading up to it on a stream that cannot seek."""
    if offset and fh.seekable():
        fh.seek(offset)
        return
    while offset > 0:
        piece = fh.read(min(offset, chunk))
        if not piece:
            return
        offset -= len(piece)


def supported(path: Path) -> bool:
    return inner_suffix(path) in FORMATS


def expand_inputs(path: Path) -> list[Path]:
    """A file as itself; a folder as its supported files (not its subfolders), sorted by name."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and supported(p) and not p.name.startswith("."))
    if files:
        return files
    others = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
    listing = f"; it holds: {', '.join(others[:8])}{' ...' if len(others) > 8 else ''}" if others else " (it is empty)"
    raise FileFormatError(f"{path}: a folder with no file to ingest directly inside it (supported: "
                          f"{', '.join(FORMATS)}, optionally .gz or .zst; subfolders are not read){listing}")


def named_files(path: Path, source: str | None = None) -> list[tuple[Path, str]]:
    """(file, source) for a file or each supported file of a folder: the source given, else the file's own name.

    The one rule `iloop ingest` and the ingest node share, so a folder names its sources the same way in both."""
    return [(p, source or source_name(p)) for p in expand_inputs(path)]

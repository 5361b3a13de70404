"""Judge a write the way the corpus test does: ExifTool reads the result, diffs it with the
original, and every difference must be one we asked for (or an offset that had to move)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.oracles import exiftool

IGNORED_GROUPS = ("System", "File", "ExifTool", "Composite", "SourceFile")
# Pointers and offsets ExifTool prints as values; they may move with a rewrite.
OFFSET_RE = re.compile(r"(Offset|Offsets|Start|ByteCounts?|Pointer|IFD|Length)$")


@dataclass
class Outcome:
    file: str
    status: str  # clean | refused | damaged | error
    detail: str = ""


def exiftool_all(path: Path, *extra: str) -> dict:
    """``exiftool -j -G1 -a -u`` of one file (plus ``extra`` options), as a dict."""
    return exiftool(path, "-G1", "-a", "-u", *extra, check=False)


def warnings_of(d: dict) -> set[str]:
    return {str(v) for k, v in d.items() if k.startswith("ExifTool:") and "Warning" in k}


def meta(d: dict) -> dict:
    """The tags of an ExifTool result, without file-system and ExifTool's own groups."""
    return {k: v for k, v in d.items() if k.partition(":")[0] not in IGNORED_GROUPS}


def changed(before: dict, after: dict) -> set[str]:
    """The tags (``Group:Name``) whose value differs between two ExifTool results."""
    a, b = meta(before), meta(after)
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


def validate(path: Path) -> str:
    return str(exiftool_all(path, "-validate").get("ExifTool:Validate"))


def diff(before: dict, after: dict, allowed: set[str]) -> list[str]:
    bad = []
    for k in sorted(set(before) | set(after)):
        group, _, name = k.partition(":")
        if group in IGNORED_GROUPS or not name:
            continue
        if before.get(k) == after.get(k) or k in allowed:
            continue
        if OFFSET_RE.search(name) and k in before and k in after:
            continue
        bad.append(f"{k}: {str(before.get(k))[:50]!r} -> {str(after.get(k))[:50]!r}")
    return bad


def image_tail(path: Path) -> bytes:
    """JPEG (and EXV): the bytes from the first SOS on (scan data and trailers); MRW, RAF: the
    blocks around the metadata and the raw data (see below); TIFF: a digest of every
    strip/tile/preview range and of the decoded pixels (tests/support/tiff_compare.py); PNG/WebP: a
    digest of the image chunks and of the pixels Pillow decodes (every frame); HEIF/AVIF: a
    digest of every non-metadata item's data and the item properties, and of Pillow's pixels
    (AVIF; HEIC reads as undecodable without pillow-heif, the same before and after)."""
    from engine.containers.jpeg import parse_jpeg

    data = path.read_bytes()
    if data[:2] in (b"II", b"MM"):
        from support.tiff_compare import tiff_digest

        return tiff_digest(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return chunk_image_digest(data) + pixel_digest(path)
    if data[4:8] == b"ftyp":
        return heif_item_digest(data) + pixel_digest(path)
    if data[:4] == b"\0MRM":  # Minolta MRW: the blocks but TTW (the TIFF), the raw data
        from engine.containers.mrw import TTW, mrw_blocks

        blocks, end, _problem = mrw_blocks(data)
        return b"".join(b.tag + data[b.offset : b.offset + b.length] for b in blocks
                        if b.tag != TTW) + data[end:]
    if data[:16] == b"FUJIFILMCCD-RAW ":  # RAF: the JPEG's image data, then the CFA blocks
        import struct

        jpos, jlen, cfa = struct.unpack_from(">III", data, 84)
        jpeg = data[jpos : jpos + jlen]
        return jpeg[parse_jpeg(jpeg).tail_offset :] + data[cfa:]
    return data[parse_jpeg(data).tail_offset :]


def heif_items(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """HEIF: every item that is not Exif/XMP metadata, by id: (item type, its data bytes)."""
    from engine.containers.heif_write import image_items

    return image_items(data)


def heif_item_digest(data: bytes) -> bytes:
    import hashlib

    h = hashlib.sha256()
    for iid, (itype, blob) in sorted(heif_items(data).items()):
        h.update(f"{iid} {itype!r} {-1 if blob is None else len(blob)}".encode() + (blob or b""))
    return h.digest()


# Chunks that carry the image (and how it is drawn) in PNG/APNG and WebP.
PNG_IMAGE = (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"acTL", b"fcTL", b"fdAT")
WEBP_IMAGE = (b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF")


def chunk_image_digest(data: bytes) -> bytes:
    import hashlib

    from engine.containers import png, webp

    h = hashlib.sha256()
    if data[:4] == b"RIFF":
        for c in webp.parse_webp(data).chunks:
            if c.fourcc in WEBP_IMAGE:
                h.update(c.fourcc + c.body())
    else:
        for c in png.parse_png(data).chunks:
            if c.type in PNG_IMAGE:
                h.update(c.type + c.body())
    return h.digest()


def pixel_digest(path: Path) -> bytes:
    """The decoded pixels of every frame (a marker naming the error if Pillow cannot decode)."""
    import hashlib
    import warnings

    from PIL import Image

    h = hashlib.sha256()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                for i in range(getattr(im, "n_frames", 1)):
                    im.seek(i)
                    h.update(f"{im.mode} {im.size}".encode() + im.tobytes())
    except Exception as e:  # noqa: BLE001 - an undecodable original must stay undecodable
        return f"undecodable: {type(e).__name__}".encode()
    return h.digest()


def conversion_allowed(before: dict, after: dict) -> set[str]:
    """Tags a container change brings with it: a simple WebP given EXIF/XMP becomes an
    Extended WebP, whose new VP8X chunk ExifTool prints as WebP_Flags; a WebP given a new EXIF
    or XMP chunk gets that flag set; a HEIF file gets a new mdat box; a Panasonic RW2 file a
    new JpgFromRaw (the embedded JPEG that holds its EXIF)."""
    if before.get("File:FileType") == "WEBP" and after.get("File:FileType") == "Extended WEBP":
        return {"RIFF:WebP_Flags"}
    if before.get("File:FileType") in ("RW2", "RWL", "RAW"):
        # the embedded JPEG holds the EXIF: it grows with it (as in ExifTool's writes)
        return {"IFD0:JpgFromRaw"}
    if before.get("File:FileType") in ("HEIC", "HEIF", "AVIF"):
        # HEIF: edited items go to a new mdat box at the end; ExifTool's JSON keeps the last
        # mdat's size (ExifTool's own writes change it too, by growing the old mdat).
        return {"QuickTime:MediaDataSize", "QuickTime:MediaData"}
    old, new = (str(d.get("RIFF:WebP_Flags", "")).split(", ") for d in (before, after))
    if set(old) <= set(new) and set(new) - set(old) <= {"XMP", "EXIF"}:  # chunks we added
        return {"RIFF:WebP_Flags"}
    return set()


def write_and_judge(src: Path, work: Path, metafs: str, sets: dict[str, str],
                    expect: dict[str, str], allowed: set[str], tail=image_tail) -> Outcome:
    work.mkdir(parents=True, exist_ok=True)
    dst = work / src.name
    shutil.copyfile(src, dst)
    original = src.read_bytes()
    args = [metafs, "write", str(dst)]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        if dst.read_bytes() != original:
            return Outcome(src.name, "damaged", "refused but the file changed")
        msg = r.stderr.strip()
        if not msg or "Traceback" in msg or len(msg.splitlines()) != 1:
            return Outcome(src.name, "error", f"unclear refusal: {msg[-300:]}")
        return Outcome(src.name, "refused", msg)
    before, after = exiftool_all(src), exiftool_all(dst)
    problems = problems_of_write(src, dst, before, after, expect,
                                 allowed | conversion_allowed(before, after), tail)
    if problems:
        return Outcome(src.name, "damaged", "; ".join(problems[:5]))
    return Outcome(src.name, "clean")


def problems_of_write(src: Path, dst: Path, before: dict, after: dict, expect: dict[str, str],
                      allowed: set[str], tail=image_tail) -> list[str]:
    """What is wrong with ``dst``, ``src`` written with metafs (ExifTool's readings
    ``before`` and ``after``): a change not asked for, a new warning, a value that does not
    read back, no backup of the original, image data changed."""
    original = src.read_bytes()
    problems = diff(before, after, allowed | set(expect))
    new_warn = warnings_of(after) - warnings_of(before)
    if new_warn:
        problems.append(f"new ExifTool warning: {sorted(new_warn)}")
    for k, v in expect.items():
        if str(after.get(k)) != v:
            problems.append(f"{k} reads back as {after.get(k)!r}, expected {v!r}")
    backup = dst.parent / ".originals" / dst.name
    if not backup.exists() or backup.read_bytes() != original:
        problems.append("backup missing or not the original")
    try:
        if tail(src) != tail(dst):
            problems.append("image data changed")
    except Exception as e:  # noqa: BLE001 - judged, not hidden
        problems.append(f"cannot compare image data: {e}")
    return problems

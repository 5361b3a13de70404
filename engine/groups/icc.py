"""ICC_Profile: the header and the tags ExifTool decodes from an embedded colour profile
(JPEG APP2 ``ICC_PROFILE`` chunks, TIFF tag 0x8773, PNG ``iCCP``, WebP ``ICCP``, HEIF
``colr``).  ICC data is always big-endian."""

from __future__ import annotations

import struct

from engine.groups.common import (
    AS_TIFF,
    binary_table,
    jpeg_segments,
    num,
    tag,
    text,
    tiff_entry,
    values,
)
from engine.groups.tables import ICC_CHRM, ICC_HEADER, ICC_MAIN, ICC_MEAS, ICC_VIEW

PART = "icc"
ICC_TIFF_TAG = 0x8773
SUBDIRS = {"meas": ("ICC-meas", ICC_MEAS), "view": ("ICC-view", ICC_VIEW),
           "chrm": ("ICC-chrm", ICC_CHRM)}
SUBDIR_ROWS = {k: (k, "?", 1, {}) for k in SUBDIRS}  # (subdirectories are not in -listx)
MAX_TAGS = 0x100  # ExifTool's limit on the tag count


def read(data, blocks, md) -> tuple[list, list[str]]:
    tags: list = []
    warnings: list[str] = []
    for n, profile in enumerate(find_profiles(data, blocks, md)):
        got, warn = decode_profile(profile)
        # a second profile's groups are numbered as ExifTool numbers them (ICC-header2...)
        tags += [t.replace(group=f"{t.group}{n + 1}") for t in got] if n else got
        warnings += warn
    return tags, warnings


def find_profiles(data, blocks, md) -> list[bytes]:
    segments = jpeg_segments(data, blocks, md)
    if segments is not None:
        found = jpeg_profile(segments)
    elif md.format in AS_TIFF:
        found = tiff_entry(blocks, ICC_TIFF_TAG)
    elif md.format == "HEIF":
        from engine.groups.heif_props import icc_profiles

        return icc_profiles(data)
    elif md.format == "PNG":
        from engine.groups.png_chunks import png_icc

        found = png_icc(data)
    elif md.format == "WEBP":
        found = riff_chunk(data, b"ICCP")
    else:
        found = None
    return [] if found is None else [found]


def jpeg_profile(segments) -> bytes | None:
    """The APP2 ``ICC_PROFILE`` chunks joined in their sequence order."""
    chunks = {}
    for seg in segments:
        p = seg.payload
        if seg.marker == 0xE2 and p.startswith(b"ICC_PROFILE\0") and len(p) >= 14:
            chunks.setdefault(p[12], p[14:])
    return b"".join(chunks[k] for k in sorted(chunks)) if chunks else None


def riff_chunk(data, fourcc: bytes) -> bytes | None:
    pos, end = 12, len(data)
    while pos + 8 <= end:
        size = struct.unpack_from("<I", data, pos + 4)[0]
        if bytes(data[pos:pos + 4]) == fourcc:
            return bytes(data[pos + 8:pos + 8 + size])
        pos += 8 + size + (size & 1)
    return None


def decode_profile(p: bytes) -> tuple[list, list[str]]:
    if len(p) < 132:
        return [], ["ICC_Profile: profile too short"]
    tags = header_tags(p)
    count = struct.unpack_from(">I", p, 128)[0]
    if not 1 <= count < MAX_TAGS or count * 12 + 132 > len(p):
        return tags, [f"ICC_Profile: bad tag table ({count} entries)"]
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", p, 132 + 12 * i)
        key = sig.decode("latin-1")
        row = ICC_MAIN.get(key) or SUBDIR_ROWS.get(key)
        if row is None:
            continue
        if off + size > len(p):
            return tags, ["ICC_Profile: bad tag table (truncated)"]
        tags += entry_tags(key, row[0], row[3], p[off:off + size])
    return tags, []


def header_tags(p: bytes) -> list:
    out = binary_table(p[:128], {k: v for k, v in ICC_HEADER.items() if v[1] != "string"},
                       PART, "ICC-header")
    for t in out:
        raw = t.value
        conv = HEADER_CONV.get(t.name)
        if conv is not None:
            out[out.index(t)] = t.replace(value=conv(raw))
    strings = [tag(PART, "ICC-header", name, sig_text(p[int(tid):int(tid) + 4], conv))
               for tid, (name, fmt, _n, conv) in ICC_HEADER.items() if fmt == "string"]
    order = {row[0]: int(tid) for tid, row in ICC_HEADER.items()}
    return sorted(out + strings, key=lambda t: order[t.name])


def sig_text(raw: bytes, conv: dict) -> str:
    s = raw.split(b"\0", 1)[0].decode("latin-1")
    return conv.get(s, f"Unknown ({s})") if conv else s


def _version(raw: str) -> str:
    v = int(raw)
    return f"{v >> 8}.{(v & 0xF0) >> 4}.{v & 0x0F}"


def _datetime(raw: str) -> str:
    y, mo, d, h, mi, s = (int(x) for x in raw.split())
    return f"{y:04d}:{mo:02d}:{d:02d} {h:02d}:{mi:02d}:{s:02d}"


def _cmm_flags(raw: str) -> str:
    v = int(raw)
    return ("Embedded, " if v & 1 else "Not Embedded, ") + (
        "Not Independent" if v & 2 else "Independent")


def _attributes(raw: str) -> str:
    v = int(raw.split()[1])
    return ("Transparency, " if v & 1 else "Reflective, ") + (
        "Matte, " if v & 2 else "Glossy, ") + ("Negative, " if v & 4 else "Positive, ") + (
        "B&W" if v & 8 else "Color")


def _hex_id(raw: str) -> str:
    vals = raw.split()
    if all(v.startswith("0") for v in vals):
        return "0"
    return "".join(f"{int(v):02x}" for v in vals)


HEADER_CONV = {"ProfileVersion": _version, "ProfileDateTime": _datetime,
               "CMMFlags": _cmm_flags, "DeviceAttributes": _attributes, "ProfileID": _hex_id}


def entry_tags(sig: str, name: str, conv: dict, v: bytes) -> list:
    typ = v[:4]
    if sig in SUBDIRS:
        group, table = SUBDIRS[sig]
        if sig == "chrm":
            n = values(v, 8, "int16u", 1) or [0]
            table = {k: r for k, r in table.items() if not r[0][-1].isdigit()
                     or int(r[0][-1]) <= n[0]}
        out = binary_table(v, table, PART, group)
        return [t.replace(value=num(float(t.value) * 100) + "%")
                if t.name == "MeasurementFlare" else t for t in out]
    if typ == b"mluc" and len(v) >= 28:
        return mluc_tags(name, v)
    value = format_value(v)
    if value is None:
        return [tag(PART, "ICC_Profile", name, None, binary=len(v))]
    return [tag(PART, "ICC_Profile", name, conv.get(value, value) if conv else value)]


def mluc_tags(name: str, v: bytes) -> list:
    count, rec = struct.unpack_from(">II", v, 8)
    out = []
    if rec < 12:
        return out
    for i in range(min(count, len(v) // rec)):
        pos = 16 + i * rec
        if pos + rec > len(v):
            break
        lang, country = v[pos:pos + 2].decode("latin-1"), v[pos + 2:pos + 4].decode("latin-1")
        slen, soff = struct.unpack_from(">II", v, pos + 4)
        if soff + slen > len(v):
            break
        s = v[soff:soff + slen].decode("utf-16-be", "replace")
        code = f"{lang.lower()}-{country.upper()}"
        tname = name if code == "en-US" or not (lang + country).isalpha() else f"{name}-{code}"
        out.append(tag(PART, "ICC_Profile", tname, s))
    return out


def format_value(v: bytes) -> str | None:
    """The value of a typed ICC tag as ExifTool formats it (None: shown as binary)."""
    typ, size = v[:4], len(v)
    if size < 8:
        return None
    if typ == b"desc" and size >= 12:
        n = struct.unpack_from(">I", v, 8)[0]
        return text(v[12:12 + n]) if size >= n + 12 else None
    if typ == b"text":
        return v[8:].decode("latin-1").rstrip("\0") if b"\0" in v[8:] else v[8:].decode(
            "latin-1")
    if typ == b"sig " and size >= 12:
        return v[8:12].decode("latin-1")
    if typ == b"dtim" and size >= 20:
        return _datetime(" ".join(str(x) for x in struct.unpack_from(">6H", v, 8)))
    if typ == b"XYZ ":
        groups = [values(v, pos, "fixed32s", 3) for pos in range(8, size - 11, 12)]
        return ", ".join(" ".join(num(x) for x in g) for g in groups if g)
    simple = {b"sf32": ("fixed32s", 4), b"uf32": ("fixed32u", 4), b"ui32": ("int32u", 4),
              b"ui08": ("int8u", 1), b"ui16": ("int16u", 2)}
    if typ in simple:
        fmt, unit = simple[typ]
        vals = values(v, 8, fmt, (size - 8) // unit) or []
        return " ".join(num(x) for x in vals)
    return None


def tag_bytes(data, blocks, md, path: str) -> bytes | None:
    """The bytes of a binary ICC tag (``icc/RedTRC``: the tag's data, type included)."""
    name, _, nth = path.split("/", 1)[-1].partition("#")
    found = []
    for profile in find_profiles(data, blocks, md):
        if len(profile) < 132:
            continue
        count = struct.unpack_from(">I", profile, 128)[0]
        for i in range(min(count, MAX_TAGS, (len(profile) - 132) // 12)):
            sig, off, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
            row = ICC_MAIN.get(sig.decode("latin-1"))
            if row is not None and row[0] == name and off + size <= len(profile):
                found.append(profile[off:off + size])
    n = int(nth) - 1 if nth.isdigit() else 0
    return found[n] if n < len(found) else None

"""The JPEG APP7 "Qualcomm Camera Attributes" segment, read as ExifTool reads it
(``Qualcomm.pm`` ProcessQualcomm, MakeNameAndDesc): family-0 group MakerNotes, family-1
group Qualcomm.

After the 27-byte header, little-endian records: the value's length (int16u), the name's
length (int8u), the name, a format byte (0-7: int8u int8s int16u int16s int32u int32s float
double; other formats are shown as binary), two counts (int16u, unused) and the value.  The
tag name is made from the record's name ("asf5_exposure_index_1" -> "ASF5ExposureIndex1").
"""

from __future__ import annotations

import re
import struct

from engine.model import TagValue, binary_text

HEADER = b"\x1aQualcomm Camera Attributes"
FORMATS = ("B", "b", "H", "h", "I", "i", "f", "d")


def read(segments) -> list[TagValue]:
    for seg in segments:
        if seg.marker == 0xE7 and seg.payload.startswith(HEADER):
            return records(bytes(seg.payload))
    return []


def records(data: bytes) -> list[TagValue]:
    from engine.printconv import perl_num

    out, pos, end = [], len(HEADER), len(data)
    while pos + 3 < end:
        vlen, nlen = struct.unpack_from("<HB", data, pos)
        if pos + 8 + nlen + vlen > end:
            break
        name = tag_name(data[pos + 3 : pos + 3 + nlen].decode("latin-1"))
        pos += 3 + nlen
        fmt = data[pos]
        pos += 5
        raw = data[pos : pos + vlen]
        pos += vlen
        if not name:
            continue
        if fmt >= len(FORMATS):
            out.append(TagValue(f"makernotes/{name}", "Qualcomm", name, binary_text(vlen),
                                False, vlen))
            continue
        code = FORMATS[fmt]
        n = vlen // struct.calcsize(code)
        vals = struct.unpack_from(f"<{n}{code}", raw) if n else ()
        text = " ".join(perl_num(v) if isinstance(v, float) else str(v) for v in vals)
        out.append(TagValue(f"makernotes/{name}", "Qualcomm", name, text, False))
    return out


def tag_name(key: str) -> str:
    """MakeNameAndDesc: leading acronyms upper-cased (else the first letter), each word's
    first letter upper-cased, "[N]" as "_NN", invalid characters dropped, then the
    underscores that only joined words removed."""
    text, n = re.subn(r"^(asf|awb|aec|afr|af_|la_|r2_tl|tl)", lambda m: m[1].upper(), key)
    if not n:
        text = text[:1].upper() + text[1:]
    text = re.sub(r"_([a-z])", lambda m: "_" + m[1].upper(), text)
    text = re.sub(r"\[(\d+)\]$", lambda m: f"_{int(m[1]):02d}", text)
    text = re.sub(r"[^-_a-zA-Z0-9]", "", text)
    if "_" in text:
        text = re.sub(r"_([A-Z][a-z])", r"\1", text)
        text = re.sub(r"([a-z0-9])_([A-Z])", r"\1\2", text)
        text = re.sub(r"([A-Za-z])_(\d)", r"\1\2", text)
    return text

#!/usr/bin/env python3
"""Generate the small test images in ``fixtures/`` (their outputs are committed).

    .venv/bin/python scripts/make_fixtures.py [--out DIR]

Pixels come from Pillow (TIFF from the tiny writer below, for byte order, strips, tiles and
pages under our control); metadata is written by ``exiftool``, the reference writer.  The
result is deterministic for a given Pillow/libjpeg and ExifTool version.  HEIC needs the
``pillow-heif`` plugin (``pip install pillow-heif``); without it the committed HEIC is kept.
``fixtures/README.md`` says what each file exercises; ``tests/test_fixtures.py`` checks it.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

# -- pixels -------------------------------------------------------------------------------

W, H = 64, 48


def picture(w: int = W, h: int = H, seed: int = 0) -> Image.Image:
    """A deterministic picture: two gradients and a checker, so codecs have something to do."""
    im = Image.new("RGB", (w, h))
    px = []
    for y in range(h):
        for x in range(w):
            check = 60 if ((x // 8) + (y // 8) + seed) % 2 else 0
            px.append(((x * 255 // w + check) % 256, (y * 255 // h) % 256, (128 + seed * 40) % 256))
    im.putdata(px)
    return im


# -- a minimal TIFF writer (uncompressed RGB; strips or tiles; several pages) ------------------

SHORT, LONG, RATIONAL = 3, 4, 5


def _pack_values(bo: str, typ: int, values: Sequence[int | tuple[int, int]]) -> bytes:
    if typ == RATIONAL:
        return b"".join(struct.pack(bo + "II", *v) for v in values)  # type: ignore[misc]
    code = {SHORT: "H", LONG: "I"}[typ]
    return struct.pack(f"{bo}{len(values)}{code}", *values)


def _ifd_block(bo: str, entries: Sequence[tuple[int, int, int, bytes]], at: int,
               base: int = 0) -> bytes:
    """An IFD at absolute offset ``at`` with its out-of-line values right after its table;
    value offsets are written relative to ``base`` (0: the TIFF header)."""
    values_at = at + 2 + 12 * len(entries) + 4
    table = bytearray(struct.pack(bo + "H", len(entries)))
    values = bytearray()
    for tag, typ, count, raw in sorted(entries):
        table += struct.pack(bo + "HHI", tag, typ, count)
        if len(raw) <= 4:
            table += raw.ljust(4, b"\0")
        else:
            table += struct.pack(bo + "I", values_at + len(values) - base)
            values += raw + (b"\0" if len(raw) % 2 else b"")
    return bytes(table + struct.pack(bo + "I", 0) + values)


def tiff_bytes(
    pages: Sequence[Image.Image], *, big_endian: bool = False, rows_per_strip: int = 0,
    tile: int = 0,
) -> bytes:
    """A baseline TIFF: one IFD per page, pixel data chunked into strips or ``tile``-sized tiles.
    Layout: header, then per page [pixel chunks][IFD][out-of-line values]."""
    bo = ">" if big_endian else "<"
    out = bytearray(b"MM\x00\x2a" if big_endian else b"II\x2a\x00")
    out += b"\0\0\0\0"  # first IFD offset, patched below
    link_at = 4  # where the offset of the next IFD goes
    for page_no, im in enumerate(pages):
        rgb = im.convert("RGB")
        chunks = _chunks(rgb, rows_per_strip, tile)
        offsets = []
        for c in chunks:
            offsets.append(len(out))
            out += c
            if len(out) % 2:
                out += b"\0"
        entries = _page_entries(rgb.size, (page_no, len(pages)), rows_per_strip, tile)
        if tile:
            entries += [(324, LONG, offsets), (325, LONG, [len(c) for c in chunks])]
        else:
            entries += [(273, LONG, offsets), (279, LONG, [len(c) for c in chunks])]
        ifd_at = len(out)
        struct.pack_into(bo + "I", out, link_at, ifd_at)
        link_at = ifd_at + 2 + 12 * len(entries)
        out += _ifd_block(bo, [(tag, typ, len(values), _pack_values(bo, typ, values))
                               for tag, typ, values in entries], ifd_at)
    return bytes(out)


def _chunks(rgb: Image.Image, rows_per_strip: int, tile: int) -> list[bytes]:
    """The pixels as strips of ``rows_per_strip`` rows (0: one strip), or as ``tile``-sized
    square tiles (padded with black past the picture's edges)."""
    w, h = rgb.size
    raw = rgb.tobytes()
    if not tile:
        rps = rows_per_strip or h
        return [raw[y * w * 3:min(h, y + rps) * w * 3] for y in range(0, h, rps)]
    chunks = []
    for ty in range(0, h, tile):
        for tx in range(0, w, tile):
            t = bytearray()
            for y in range(ty, ty + tile):
                for x in range(tx, tx + tile):
                    i = (y * w + x) * 3
                    t += raw[i:i + 3] if x < w and y < h else b"\0\0\0"
            chunks.append(bytes(t))
    return chunks


def _page_entries(size: tuple[int, int], page: tuple[int, int], rows_per_strip: int,
                  tile: int) -> list[tuple[int, int, list]]:
    """A page's IFD entries but for its chunks' offsets and byte counts."""
    w, h = size
    entries: list[tuple[int, int, list]] = [
        (254, LONG, [0]),
        (256, LONG, [w]),
        (257, LONG, [h]),
        (258, SHORT, [8, 8, 8]),
        (259, SHORT, [1]),
        (262, SHORT, [2]),
        (277, SHORT, [3]),
        (282, RATIONAL, [(72, 1)]),
        (283, RATIONAL, [(72, 1)]),
        (284, SHORT, [1]),
        (296, SHORT, [2]),
    ]
    if page[1] > 1:
        entries.append((297, SHORT, list(page)))
    if tile:
        entries += [(322, SHORT, [tile]), (323, SHORT, [tile])]
    else:
        entries.append((278, LONG, [rows_per_strip or h]))
    return entries


# -- TIFFs with maker notes (built by hand: ExifTool would rewrite a maker note it copies) ----

ASCII, UNDEF = 2, 7


def _text(s: str) -> tuple[int, int, bytes]:
    raw = s.encode() + b"\0"
    return ASCII, len(raw), raw


def canon_makernote(bo: str, at: int) -> bytes:
    """Canon style: an IFD at the start, value offsets relative to the TIFF header (absolute),
    so the bytes depend on where the maker note is."""
    return _ifd_block(bo, [
        (0x0006, *_text("IMG:EOS 5D JPEG")),
        (0x0007, *_text("Firmware Version 1.1.1")),
        (0x0009, *_text("metafs fixture owner")),
        (0x000C, LONG, 1, struct.pack(bo + "I", 123456)),
        (0x0010, LONG, 1, struct.pack(bo + "I", 0x80000213)),
    ], at)


def nikon_makernote(bo: str, at: int) -> bytes:
    """Nikon type 3: "Nikon\\0" + version, then a TIFF header of its own; value offsets are
    relative to that header, so the maker note is self-contained."""
    head = b"Nikon\0\x02\x10\0\0" + (b"II*\0" if bo == "<" else b"MM\0*") + struct.pack(bo + "I", 8)
    inner = _ifd_block(bo, [
        (0x0001, UNDEF, 4, b"0210"),
        (0x0002, SHORT, 2, struct.pack(bo + "2H", 0, 200)),
        (0x0004, *_text("FINE  ")),
        (0x0005, *_text("AUTO        ")),
        (0x0007, *_text("AF-S  ")),
    ], 8)
    return head + inner


def makernote_tiff(big_endian: bool, maker: str) -> bytes:
    """A small strip TIFF whose ExifIFD ends with a maker note, the last thing in the file:
    header, strip, IFD0 + values, ExifIFD + values (MakerNote last)."""
    bo = ">" if big_endian else "<"
    make, model, note = {
        "canon": ("Canon", "Canon EOS 5D", canon_makernote),
        "nikon": ("NIKON CORPORATION", "NIKON D70", nikon_makernote),
    }[maker]
    w, h = 16, 12
    pixels = picture(w, h, seed=13).tobytes()
    strip_at = 8
    ifd0_at = strip_at + len(pixels)

    def ifd0(exif_at: int) -> bytes:
        return _ifd_block(bo, [
            (254, LONG, 1, struct.pack(bo + "I", 0)),
            (256, LONG, 1, struct.pack(bo + "I", w)),
            (257, LONG, 1, struct.pack(bo + "I", h)),
            (258, SHORT, 3, struct.pack(bo + "3H", 8, 8, 8)),
            (259, SHORT, 1, struct.pack(bo + "H", 1)),
            (262, SHORT, 1, struct.pack(bo + "H", 2)),
            (271, *_text(make)),
            (272, *_text(model)),
            (273, LONG, 1, struct.pack(bo + "I", strip_at)),
            (277, SHORT, 1, struct.pack(bo + "H", 3)),
            (278, LONG, 1, struct.pack(bo + "I", h)),
            (279, LONG, 1, struct.pack(bo + "I", len(pixels))),
            (282, RATIONAL, 1, struct.pack(bo + "II", 72, 1)),
            (283, RATIONAL, 1, struct.pack(bo + "II", 72, 1)),
            (296, SHORT, 1, struct.pack(bo + "H", 2)),
            (0x8769, LONG, 1, struct.pack(bo + "I", exif_at)),
        ], ifd0_at)

    exif_at = ifd0_at + len(ifd0(0))
    exif_at += exif_at % 2

    def exif(note_bytes: bytes) -> bytes:
        return _ifd_block(bo, [
            (0x829A, RATIONAL, 1, struct.pack(bo + "II", 1, 125)),
            (0x9003, *_text("2020:01:01 10:00:00")),
            (0x9000, UNDEF, 4, b"0230"),
            (0x927C, UNDEF, len(note_bytes), note_bytes),  # the last out-of-line value
            (0xA000, UNDEF, 4, b"0100"),
            (0xA001, SHORT, 1, struct.pack(bo + "H", 1)),
        ], exif_at)

    probe = note(bo, 0)  # same length wherever it goes
    note_at = exif_at + len(exif(probe)) - len(probe) - len(probe) % 2
    out = b"MM\0*" if big_endian else b"II*\0"
    out += struct.pack(bo + "I", ifd0_at) + pixels + ifd0(exif_at)
    out += b"\0" * (exif_at - len(out))
    return out + exif(note(bo, note_at))


# -- metadata (ExifTool arguments) ----------------------------------------------------------

IFD0 = [
    "-IFD0:Make=MetaFS Test Camera Co.", "-IFD0:Model=Fixture One", "-IFD0:Orientation#=1",
    "-IFD0:XResolution=300", "-IFD0:YResolution=300", "-IFD0:ResolutionUnit=inches",
    "-IFD0:Software=make_fixtures.py", "-IFD0:ModifyDate=2020:01:02 03:04:05",
    "-IFD0:Artist=Jane Doe", "-IFD0:Copyright=(c) 2020 Jane Doe",
    "-IFD0:ImageDescription=A fixture image",
]
EXIF_IFD = [
    "-ExifIFD:ExposureTime=1/125", "-ExifIFD:FNumber=5.6", "-ExifIFD:ISO=200",
    "-ExifIFD:ExposureProgram#=3", "-ExifIFD:Flash#=16", "-ExifIFD:MeteringMode#=5",
    "-ExifIFD:FocalLength=35", "-ExifIFD:ExposureCompensation=-2/3",
    "-ExifIFD:DateTimeOriginal=2020:01:01 10:00:00", "-ExifIFD:CreateDate=2020:01:01 10:00:00",
    "-ExifIFD:SubSecTimeOriginal=123", "-ExifIFD:OffsetTimeOriginal=+02:00",
    "-ExifIFD:LensModel=Fixture 35mm F1.4", "-ExifIFD:UserComment=Fixture user comment",
    "-ExifIFD:WhiteBalance#=0", "-ExifIFD:ColorSpace#=1",
    f"-ExifIFD:ExifImageWidth={W}", f"-ExifIFD:ExifImageHeight={H}",
]
GPS = [
    "-GPS:GPSVersionID=2.3.0.0", "-GPS:GPSLatitude=37.7749", "-GPS:GPSLatitudeRef=N",
    "-GPS:GPSLongitude=122.4194", "-GPS:GPSLongitudeRef=W", "-GPS:GPSAltitude=16.5",
    "-GPS:GPSAltitudeRef#=0", "-GPS:GPSTimeStamp=10:00:00", "-GPS:GPSDateStamp=2020:01:01",
]
INTEROP = ["-InteropIFD:InteropIndex=R98", "-InteropIFD:InteropVersion=0100"]
XMP = [
    "-XMP-dc:Title=Sunset over the bay", "-XMP-dc:Title-de=Sonnenuntergang über der Bucht",
    "-XMP-dc:Subject=sunset", "-XMP-dc:Subject=bay", "-XMP-dc:Subject=Zoë's trip",
    "-XMP-dc:Creator=Jane Doe", "-XMP-dc:Creator=John Roe",
    "-XMP-dc:Description=An XMP description", "-XMP-dc:Rights=CC BY 4.0",
    "-XMP-xmp:Rating=4", "-XMP-xmp:CreateDate=2020:01:01 10:00:00+02:00",
    "-XMP-xmp:Label=Green", "-XMP-photoshop:City=San Francisco",
    "-XMP-photoshop:Country=USA",
    # a structure, and a list of structures
    "-XMP-iptcCore:CreatorContactInfo={CiAdrCity=Paris,CiEmailWork=jane@example.com}",
    "-XMP-xmpMM:History={Action=created,When=2020:01:01 10:00:00,SoftwareAgent=Fixture}",
    "-XMP-xmpMM:History={Action=saved,When=2020:01:02 03:04:05,SoftwareAgent=Fixture}",
]
IPTC = [
    "-IPTC:CodedCharacterSet=UTF8", "-IPTC:Keywords=sunset", "-IPTC:Keywords=bay",
    "-IPTC:Keywords=Zoë's trip", "-IPTC:By-line=Jane Doe",
    "-IPTC:Caption-Abstract=An IPTC caption", "-IPTC:ObjectName=Sunset",
    "-IPTC:City=San Francisco", "-IPTC:Country-PrimaryLocationName=USA",
    "-IPTC:DateCreated=2020:01:01", "-IPTC:TimeCreated=10:00:00+02:00",
]
EXIF_ALL = IFD0 + EXIF_IFD + GPS + INTEROP


def exiftool(path: Path, args: Sequence[str]) -> None:
    cmd = ["exiftool", "-q", "-overwrite_original", "-charset", "iptc=UTF8", *args, str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or "Warning" in r.stderr or "Error" in r.stderr:
        sys.exit(f"exiftool failed on {path.name}: {r.stderr.strip() or r.returncode}")


def thumbnail(tmp: Path) -> Path:
    p = tmp / "thumb.jpg"
    picture(16, 12, seed=1).save(p, "JPEG", quality=70)
    return p


def jpeg(path: Path, seed: int = 0) -> None:
    picture(seed=seed).save(path, "JPEG", quality=85)


def patch_ifd_loop(data: bytes) -> bytes:
    """Point IFD1's next-IFD link back at IFD0: IFD0 -> IFD1 -> IFD0 -> ... (a hostile file)."""
    app1 = data.index(b"Exif\0\0") + 6
    bo = "<" if data[app1:app1 + 2] == b"II" else ">"
    ifd0 = struct.unpack_from(bo + "I", data, app1 + 4)[0]
    n0 = struct.unpack_from(bo + "H", data, app1 + ifd0)[0]
    ifd1 = struct.unpack_from(bo + "I", data, app1 + ifd0 + 2 + 12 * n0)[0]
    n1 = struct.unpack_from(bo + "H", data, app1 + ifd1)[0]
    out = bytearray(data)
    struct.pack_into(bo + "I", out, app1 + ifd1 + 2 + 12 * n1, ifd0)
    return bytes(out)


def make_all(out: Path, tmp: Path) -> list[str]:
    """Every fixture into ``out`` (``tmp``: scratch files); notes on what was kept."""
    _jpegs(out, tmp)
    _tiffs(out)
    notes = _png_webp_heif(out)
    _broken(out)
    return notes


def _jpegs(out: Path, tmp: Path) -> None:
    thumb = thumbnail(tmp)
    thumb_args = [
        f"-ThumbnailImage<={thumb}", "-IFD1:XResolution=72", "-IFD1:YResolution=72",
        "-IFD1:ResolutionUnit=inches",
    ]

    for name, order in (("exif_le.jpg", "II"), ("exif_be.jpg", "MM")):
        p = out / name
        jpeg(p)
        exiftool(p, [f"-ExifByteOrder={order}", *EXIF_ALL, *thumb_args])

    p = out / "xmp.jpg"
    jpeg(p, seed=1)
    exiftool(p, XMP)

    # Over 64 KB of XMP: ExifTool moves the big property into Extended XMP segments.
    p = out / "xmp_extended.jpg"
    jpeg(p, seed=2)
    words = " ".join(f"word{i:05d}" for i in range(8000))  # about 80 KB
    desc = tmp / "description.txt"
    desc.write_text(f"Start of a long description. {words} End of the long description.")
    exiftool(p, ["-XMP-dc:Title=Extended XMP fixture", "-XMP-dc:Subject=extended",
                 f"-XMP-dc:Description<={desc}"])

    p = out / "iptc.jpg"
    jpeg(p, seed=3)
    exiftool(p, IPTC)

    p = out / "photo.jpg"
    jpeg(p, seed=4)
    exiftool(p, ["-ExifByteOrder=II", *EXIF_ALL, *thumb_args, *XMP, *IPTC])


def _tiffs(out: Path) -> None:
    p = out / "strips_le.tif"
    p.write_bytes(tiff_bytes([picture(seed=5)], rows_per_strip=12))
    exiftool(p, [*IFD0, *EXIF_IFD, *GPS, *XMP, *IPTC])

    p = out / "tiles_be.tif"
    p.write_bytes(tiff_bytes([picture(seed=6)], big_endian=True, tile=16))
    exiftool(p, [*IFD0, *EXIF_IFD, "-XMP-dc:Title=Tiled TIFF", "-XMP-xmp:Rating=3"])

    p = out / "multipage.tif"
    p.write_bytes(tiff_bytes([picture(seed=7), picture(32, 24, seed=8)], rows_per_strip=16))
    exiftool(p, ["-IFD0:Make=MetaFS Test Camera Co.", "-IFD0:Model=Two Pages",
                 "-ExifIFD:ISO=400", "-XMP-dc:Title=Two pages"])

    # Maker notes in TIFF: absolute offsets (Canon) and self-contained (Nikon type 3).
    for maker in ("canon", "nikon"):
        for order, big in (("le", False), ("be", True)):
            (out / f"makernote_{maker}_{order}.tif").write_bytes(makernote_tiff(big, maker))


def _png_webp_heif(out: Path) -> list[str]:
    p = out / "exif_xmp.png"
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "A PNG tEXt comment")
    picture(seed=9).save(p, "PNG", pnginfo=info, optimize=True)
    exiftool(p, ["-ExifByteOrder=MM", *IFD0, *EXIF_IFD, *GPS,
                 "-XMP-dc:Title=PNG fixture", "-XMP-dc:Subject=png", "-XMP-dc:Subject=exif"])

    p = out / "exif_xmp.webp"
    picture(seed=10).save(p, "WEBP", quality=60, method=6)
    exiftool(p, ["-ExifByteOrder=II", *IFD0, *EXIF_IFD, *GPS,
                 "-XMP-dc:Title=WebP fixture", "-XMP-xmp:Rating=5"])

    heif_args = ["-ExifByteOrder=MM", *IFD0, *EXIF_IFD, *GPS, "-XMP-dc:Title=HEIF fixture",
                 "-XMP-dc:Subject=heif"]
    p = out / "exif_xmp.avif"
    picture(seed=11).save(p, "AVIF", quality=50)
    exiftool(p, heif_args)

    p = out / "exif_xmp.heic"
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        picture(seed=12).save(p, "HEIF", quality=50)
        exiftool(p, heif_args)
    except ImportError:
        return ["pillow-heif not installed: kept the committed exif_xmp.heic"]
    return []


def _broken(out: Path) -> None:
    """Broken files, made from a good one."""
    good = (out / "exif_le.jpg").read_bytes()
    app1 = good.index(b"Exif\0\0")
    (out / "truncated_exif.jpg").write_bytes(good[:app1 + 300])  # cut inside IFD0's values
    (out / "truncated_scan.jpg").write_bytes(good[:-200])  # metadata whole, image data cut, no EOI
    (out / "ifd_loop.jpg").write_bytes(patch_ifd_loop(good))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "fixtures")
    args = ap.parse_args()
    if shutil.which("exiftool") is None:
        return print("make_fixtures: exiftool not found (run scripts/setup)", file=sys.stderr) or 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        notes = make_all(args.out, Path(tmp))
    total = 0
    for f in sorted(args.out.iterdir()):
        if f.name != "README.md":
            total += f.stat().st_size
            print(f"{f.stat().st_size:8d}  {f.name}")
    print(f"{total:8d}  total")
    for n in notes:
        print("note:", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Variants of photo files the shared corpus does not have, made by ExifTool and Pillow (and,
for TIFF SubIFDs, tests/support/tiff_builder) into a temporary folder; used by
scripts/variant_survey.py.  Never committed: every file is made again at each run.

Each maker is ``(family, name, make)``; ``make(src, out)`` writes ``out`` (``src`` is a
folder of shared inputs: a sample JPEG, a thumbnail, an ICC profile).  Every variant holds
IFD0:Software or another tag the survey can delete.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
ET_IMAGES = CORPUS / "exiftool" / "t" / "images"
XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:'
       'meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Descript'
       'ion rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:'
       'li xml:lang="x-default">variant</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:'
       'RDF></x:xmpmeta><?xpacket end="w"?>')
SOFTWARE = "-IFD0:Software=variant maker"

Maker = tuple[str, str, Callable[[Path, Path], None]]


def et(*args: str | Path) -> None:
    """ExifTool on files in place (its warnings are the file's, not a failure)."""
    subprocess.run(["exiftool", "-q", "-q", "-overwrite_original", *map(str, args)],
                   check=True, capture_output=True)


def image(mode: str = "RGB", size: tuple[int, int] = (48, 32)):
    from PIL import Image

    im = Image.new(mode, size)
    w, h = size
    if mode in ("RGB", "RGBA", "CMYK"):
        im.putdata([tuple((x * 5 + y * 3 + c * 60) & 0xFF for c in range(len(mode)))
                    for y in range(h) for x in range(w)])
    return im


def pil_exif(**tags: object) -> bytes:
    from PIL import Image

    ex = Image.Exif()
    ex[0x0131] = "variant maker"  # Software
    ex[0x010F] = "Maker"
    for k, v in tags.items():
        ex[int(k[1:], 16)] = v
    return ex.tobytes()


def shared_inputs(src: Path) -> None:
    """The sample JPEG (fixtures/photo.jpg), a 16x12 thumbnail and an sRGB ICC profile."""
    from PIL import ImageCms

    src.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / "photo.jpg", src / "photo.jpg")
    image(size=(16, 12)).save(src / "thumb.jpg", "JPEG")
    (src / "srgb.icc").write_bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                                   .tobytes())


def _save(fmt: str, **kw):
    def make(src: Path, out: Path) -> None:
        opts = dict(kw)
        im = opts.pop("_image", None) or image()
        if opts.pop("_icc", False):
            opts["icc_profile"] = (src / "srgb.icc").read_bytes()
        im.save(out, fmt, **opts)
    return make


def _then_et(make, *args: str):
    def both(src: Path, out: Path) -> None:
        make(src, out)
        et(*args, out)
    return both


def _copy_et(path: Path, *args: str):
    def make(src: Path, out: Path) -> None:
        shutil.copyfile(path, out)
        if args:
            et(*args, out)
    return make


# ---------------------------------------------------------------- JPEG
def _mpo(src: Path, out: Path) -> None:
    frames = [image(), image(size=(48, 32)).rotate(180)]
    frames[0].save(out, "MPO", save_all=True, append_images=frames[1:], exif=pil_exif())


def _jpeg_makers() -> list[Maker]:
    photo = FIXTURES / "photo.jpg"
    big = "x" * 90000
    out: list[Maker] = [
        ("JPEG", "progressive_pillow_exif",
         _save("JPEG", progressive=True, exif=pil_exif(), dpi=(300, 300))),
        ("JPEG", "cmyk_adobe_app14", _then_et(_save("JPEG", _image=image("CMYK")), SOFTWARE)),
        ("JPEG", "icc_comment_pillow", _save("JPEG", _icc=True, comment=b"hello",
                                            exif=pil_exif())),
        ("JPEG", "mpf_pillow_mpo", _mpo),
        ("JPEG", "mpf_pillow_mpo_et_xmp", _then_et(_mpo, "-XMP-dc:Title=mpo")),
        ("JPEG", "extended_xmp_et", _copy_et(photo, f"-XMP-dc:Description={big}", SOFTWARE)),
        ("JPEG", "thumbnail_added_et", lambda s, o: (shutil.copyfile(s / "photo.jpg", o),
                                                      et(f"-ThumbnailImage<={s}/thumb.jpg",
                                                         SOFTWARE, o))),
        ("JPEG", "iptc_xmp_exif_et", _copy_et(photo, "-IPTC:Keywords=k1", "-IPTC:Keywords=k2",
                                              "-XMP-dc:Subject=k1", SOFTWARE,
                                              "-IPTC:ObjectName=t")),
        ("JPEG", "exif_created_by_et", _then_et(_save("JPEG"), SOFTWARE,
                                                "-DateTimeOriginal=2020:01:02 03:04:05",
                                                "-GPSLatitude=10.5", "-GPSLatitudeRef=N")),
        ("JPEG", "exif_be_created_et", _then_et(_save("JPEG"), "-ExifByteOrder=MM", SOFTWARE,
                                                 f"-ThumbnailImage<={FIXTURES}/photo.jpg")),
        ("JPEG", "icc_added_et", lambda s, o: (image().save(o, "JPEG"),
                                               et(f"-ICC_Profile<={s}/srgb.icc", SOFTWARE, o))),
    ]
    mpo = CORPUS / "pillow" / "Tests" / "images" / "frozenpond.mpo"
    if mpo.exists():
        out.append(("JPEG", "mpo_corpus_et_grown", _copy_et(mpo, SOFTWARE,
                                                            f"-ImageDescription={'d' * 3000}")))
    for name in ("Canon", "Nikon", "Olympus", "Pentax", "FujiFilm", "Panasonic", "Sony",
                 "Ricoh", "Casio2", "Minolta", "Sigma", "GE", "Apple", "Google", "FLIR",
                 "Motorola", "JVC", "Kodak"):
        f = ET_IMAGES / f"{name}.jpg"
        if f.exists():  # ExifTool's own layout after a rebuild, maker notes moved
            out.append(("JPEG", f"rebuilt_et_{name}",
                        _copy_et(f, "-all=", "-tagsfromfile", "@", "-all:all", "-unsafe",
                                 f"-ImageDescription={'r' * 700}", SOFTWARE)))
    return out


# ---------------------------------------------------------------- TIFF
def _tiff_subifds(bo: str):
    """A TIFF (byte order ``bo``) with an 8x8 RGB strip image and a SubIFD (0x14a) holding
    a 4x4 reduced image, EXIF and GPS sub-IFDs, built with tests/support/tiff_builder."""

    def make(src: Path, out: Path) -> None:
        import sys

        sys.path.insert(0, str(ROOT / "tests"))
        from support.tiff_builder import build

        main, small = bytes(range(192)), bytes(range(48))

        def ifds(at: int) -> list[list]:
            def img(w: int, n: int, offset: int, kind: int) -> list:
                return [(0xFE, 4, [kind]), (0x100, 3, [w]), (0x101, 3, [w]),
                        (0x102, 3, [8, 8, 8]), (0x103, 3, [1]), (0x106, 3, [2]),
                        (0x111, 4, [offset]), (0x115, 3, [3]), (0x116, 3, [w]),
                        (0x117, 4, [n])]
            sub = img(4, len(small), at + len(main), 1)
            return [img(8, len(main), at, 0)[:-1] + [
                (0x117, 4, [len(main)]), (0x11A, 5, [(72, 1)]), (0x11B, 5, [(72, 1)]),
                (0x128, 3, [2]), (0x131, 2, "variant maker"), ("sub", 0x14A, sub),
                ("sub", 0x8769, [(0x9003, 2, "2020:01:02 03:04:05")]),
                ("sub", 0x8825, [(0x0, 1, [2, 3, 0, 0])])]]

        size = len(build(ifds(0), bo))
        out.write_bytes(build(ifds(size), bo) + main + small)
    return make


def _tiff_makers() -> list[Maker]:
    rgb16 = image("I;16B", (24, 16))
    return [
        ("TIFF", "le_strips_pillow_et", _then_et(_save("TIFF"), SOFTWARE,
                                                 "-XMP-dc:Title=t", "-IPTC:Keywords=k")),
        ("TIFF", "lzw_libtiff", _then_et(_save("TIFF", compression="tiff_lzw"), SOFTWARE)),
        ("TIFF", "deflate_icc", _then_et(_save("TIFF", compression="tiff_adobe_deflate",
                                               _icc=True), SOFTWARE)),
        ("TIFF", "be_16bit_pillow", _then_et(_save("TIFF", _image=rgb16), SOFTWARE,
                                             "-DateTimeOriginal=2020:01:01 00:00:00")),
        ("TIFF", "multipage_pillow", lambda s, o: (
            image().save(o, "TIFF", save_all=True, append_images=[image(), image()]),
            et(SOFTWARE, o))),
        ("TIFF", "subifds_le", _tiff_subifds("<")),
        ("TIFF", "subifds_be", _tiff_subifds(">")),
        ("TIFF", "subifds_be_et_grown", _then_et(_tiff_subifds(">"), "-XMP-dc:Title=t",
                                                 f"-ImageDescription={'s' * 900}")),
        ("TIFF", "bigtiff_pillow", _save("TIFF", big_tiff=True, tiffinfo={0x131: "v"})),
    ]


# ---------------------------------------------------------------- raw files
RAWS = ("CanonRaw.cr2", "Nikon.nef", "DNG.dng", "Panasonic.rw2", "FujiFilm.raf",
        "CanonRaw.cr3", "PhaseOne.iiq", "Minolta.mrw", "Sigma.x3f")


def _raw_makers() -> list[Maker]:
    """ExifTool's layout after a write that adds XMP and GPS and grows IFD0 (-m: the NEF's
    undersized strip is a minor error; the corpus's ARW and ORF are truncated: not made)."""
    out: list[Maker] = []
    for f in (ET_IMAGES / n for n in RAWS):
        if f.exists():
            out.append((f.suffix[1:].upper(), f"{f.stem}_et_grown",
                        _copy_et(f, "-m", "-XMP-dc:Title=raw", "-GPSLatitude=1.5",
                                 "-GPSLatitudeRef=N", f"-ImageDescription={'w' * 500}",
                                 SOFTWARE)))
    return out


# ---------------------------------------------------------------- PNG
def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_exif_after_idat(src: Path, out: Path) -> None:
    """eXIf after the image data (allowed by the PNG extensions; ExifTool reads it)."""
    buf = io.BytesIO()
    image().save(buf, "PNG")
    data = buf.getvalue()
    end = data.rindex(b"IEND") - 4
    out.write_bytes(data[:end] + _png_chunk(b"eXIf", pil_exif()[6:]) + data[end:])


def _png_ztxt_itxt(src: Path, out: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "zipped comment " * 20, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP, zip=True)
    image().save(out, "PNG", pnginfo=info, exif=pil_exif())


def _png_raw_profile(src: Path, out: Path) -> None:
    """ImageMagick's way: the EXIF hex-encoded in a zTXt "Raw profile type exif" chunk."""
    exif = pil_exif()  # "Exif\0\0" and the TIFF block
    hexed = exif.hex()
    text = f"\nexif\n{len(exif):8d}\n" + "\n".join(
        hexed[i : i + 72] for i in range(0, len(hexed), 72)) + "\n"
    buf = io.BytesIO()
    image().save(buf, "PNG")
    data = buf.getvalue()
    at = data.index(b"IDAT") - 4
    body = b"Raw profile type exif\0\0" + zlib.compress(text.encode())
    out.write_bytes(data[:at] + _png_chunk(b"zTXt", body) + data[at:])


def _png_makers() -> list[Maker]:
    return [
        ("PNG", "exif_pillow", _save("PNG", exif=pil_exif())),
        ("PNG", "exif_after_idat", _png_exif_after_idat),
        ("PNG", "raw_profile_exif_ztxt", _png_raw_profile),
        ("PNG", "ztxt_itxt_xmp_zipped", _png_ztxt_itxt),
        ("PNG", "et_compressed_z", _then_et(_save("PNG"), "-z", SOFTWARE, "-XMP-dc:Title=t")),
        ("PNG", "et_exif_xmp", _then_et(_save("PNG"), SOFTWARE, "-XMP-dc:Title=t",
                                        "-PNG:Author=me")),
        ("PNG", "iccp_pillow", _then_et(_save("PNG", _icc=True), SOFTWARE)),
        ("PNG", "apng_pillow", lambda s, o: (
            image().save(o, "PNG", save_all=True, append_images=[image().rotate(90)]),
            et(SOFTWARE, o))),
        ("PNG", "palette_trns", _then_et(_save("PNG", _image=image().convert("P"),
                                               transparency=0), SOFTWARE)),
    ]


# ---------------------------------------------------------------- WebP, HEIF/AVIF, EXV
def _webp_makers() -> list[Maker]:
    return [
        ("WEBP", "lossy_simple_et", _then_et(_save("WEBP"), SOFTWARE)),
        ("WEBP", "lossless_simple_et", _then_et(_save("WEBP", lossless=True), SOFTWARE,
                                                "-XMP-dc:Title=t")),
        ("WEBP", "alpha_exif", _save("WEBP", _image=image("RGBA"), exif=pil_exif())),
        ("WEBP", "icc_exif_xmp_pillow", _save("WEBP", _icc=True, exif=pil_exif(),
                                              xmp=XMP.encode())),
        ("WEBP", "animated_exif", lambda s, o: image().save(
            o, "WEBP", save_all=True, append_images=[image().rotate(90)], exif=pil_exif())),
    ]


def _heif_makers() -> list[Maker]:
    out: list[Maker] = [
        ("HEIF", "avif_pillow_exif_xmp", _save("AVIF", exif=pil_exif(), xmp=XMP.encode())),
        ("HEIF", "avif_pillow_exif", _save("AVIF", exif=pil_exif())),
    ]
    for f in (FIXTURES / "exif_xmp.heic", FIXTURES / "exif_xmp.avif",
              ET_IMAGES / "QuickTime.heic"):
        if f.exists():
            out.append(("HEIF", f"{f.stem}_{f.suffix[1:]}_et_grown",
                        _copy_et(f, f"-ImageDescription={'h' * 5000}", SOFTWARE,
                                 "-XMP-dc:Title=grown")))
    heic = FIXTURES / "exif_xmp.heic"
    if heic.exists():
        out.append(("HEIF", "heic_et_exif_removed", _copy_et(heic, "-EXIF:all=",
                                                             "-XMP-dc:Title=t")))
    return out


def _emptied_makers() -> list[Maker]:
    """What ExifTool leaves after deleting a whole family (an emptied Exif item, a RW2's
    JpgFromRaw without APP1, a VP8X without chunks...): the survey then sets and deletes."""
    out: list[Maker] = []
    sources = [("JPEG", FIXTURES / "photo.jpg"), ("PNG", FIXTURES / "exif_xmp.png"),
               ("WEBP", FIXTURES / "exif_xmp.webp"), ("HEIF", FIXTURES / "exif_xmp.avif"),
               ("TIFF", FIXTURES / "strips_le.tif"), ("RW2", ET_IMAGES / "Panasonic.rw2"),
               ("DNG", ET_IMAGES / "DNG.dng"), ("CR2", ET_IMAGES / "CanonRaw.cr2")]
    for family, f in sources:
        if not f.exists():
            continue
        out.append((family, f"{f.stem}_et_exif_removed",
                    _copy_et(f, "-m", "-EXIF:all=", "-XMP-dc:Title=kept")))
        out.append((family, f"{f.stem}_et_xmp_removed",
                    _copy_et(f, "-m", "-XMP:all=", SOFTWARE)))
    for f in (CORPUS / "exif-samples" / "heic").glob("*.HEIC"):
        out.append(("HEIF", f"{f.stem}_corpus_et_grown",
                    _copy_et(f, "-m", f"-ImageDescription={'c' * 4000}", "-XMP-dc:Title=t")))
        break
    return out


def _exv(src: Path, out: Path) -> None:
    subprocess.run(["exiftool", "-q", "-q", "-o", str(out), SOFTWARE, str(src / "photo.jpg")],
                   check=True, capture_output=True)


def makers() -> list[Maker]:
    return (_jpeg_makers() + _tiff_makers() + _raw_makers() + _png_makers()
            + _webp_makers() + _heif_makers() + _emptied_makers()
            + [("EXV", "exv_from_jpeg_et", _exv)])

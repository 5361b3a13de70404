"""Which maker-note format a MakerNote value is, and where its IFD and offset base are.

Facts from ExifTool's ``MakerNotes.pm`` table (each entry's Condition, ``Start``, ``Base``,
``OffsetPt`` and ``ByteOrder``), as data: a rule matches on the value's first bytes and/or the
camera Make; ``start`` is where the IFD begins in the maker note, ``base`` what value offsets
are relative to ("tiff": the enclosing EXIF TIFF header; "note": the maker note start plus
``base_delta``), and ``order`` the byte order ("" = guess from the IFD entry count, as
ExifTool's ByteOrder 'Unknown').  Rules are tried in ExifTool's order; the first that matches
wins.  A rule whose table is a binary one (Kodak, Reconyx) reads the maker note from ``start``
as that table; formats without a rule (HP, JVC text...) show nothing.
"""

from __future__ import annotations

import re
import struct

from engine.record import FrozenRecord


class Rule(FrozenRecord):
    __slots__ = ("name", "prefix", "make", "table", "start", "base", "base_delta", "order",
                 "start_at")
    name: str
    prefix: bytes | None  # the maker note starts with these bytes (a regex)
    make: str | None  # the camera Make matches this (a regex, from the start)
    table: str  # ExifTool table of the IFD
    start: int
    base: str  # "tiff" or "note"
    base_delta: int
    order: str  # "<", ">" or "" (guess)
    start_at: int | None  # the IFD offset is a little-endian int32 at this position (FujiFilm)

    def __init__(self, name: str, prefix: bytes | None, make: str | None, table: str,
                 start: int = 0, base: str = "tiff", base_delta: int = 0, order: str = "",
                 start_at: int | None = None) -> None:
        self._init(name, prefix, make, table, start, base, base_delta, order, start_at)


R = Rule
RULES = (
    R("Apple", rb"Apple iOS\0", None, "Apple::Main", 14, "note"),
    R("Nikon", rb"Nikon\0\x02", None, "Nikon::Main", 18, "note", 10),
    R("Canon", None, "Canon", "Canon::Main"),
    R("Casio2", rb"(QVC|DCI)\0", None, "Casio::Type2", 6),
    R("Casio", None, "CASIO", "Casio::Main"),
    R("DJI", None, "DJI$", "DJI::Main"),
    R("FLIR", None, "FLIR Systems", "FLIR::Main"),
    R("FujiFilm", rb"(FUJIFILM|GENERALE)", None, "FujiFilm::Main", 0, "note", 0, "<", 8),
    R("GE", rb"GE(\0\0|NIC\0)", None, "GE::Main", 18),
    R("GE2", rb"GE\x0c\0\0\0\x16\0\0\0", None, "FujiFilm::Main", 12, "note", 6, "<"),
    R("JVC", rb"JVC ", None, "JVC::Main", 4),
    # Kodak's (no IFD: ProcessBinaryData tables on the maker note bytes)
    R("Kodak1a", rb"KDK INFO", "EASTMAN KODAK", "Kodak::Main", 8, order=">"),
    R("Kodak1b", rb"KDK", "EASTMAN KODAK", "Kodak::Main", 8, order="<"),
    R("Kodak2", rb"(?s:.{8}Eastman Kodak|\x01\0[\0\x01]\0\0\0\x04\0[a-zA-Z]{4})", None,
      "Kodak::Type2", order=">"),
    R("Kodak3", rb"(?!MM|II|AOC)(?s:.{12}\x07)", "EASTMAN KODAK", "Kodak::Type3", order=">"),
    R("Kodak4", rb"(?!MM|II|AOC)(?s:.{41}JPG)", "Eastman Kodak", "Kodak::Type4", order=">"),
    R("Minolta2", rb"(MINOL|CAMER)\0", None, "Olympus::Main", 8),
    R("Minolta", None, "(?i:Konica Minolta|Minolta)", "Minolta::Main"),
    R("Motorola", rb"MOT\0", None, "Motorola::Main", 8, "note"),
    R("Nikon2", rb"Nikon\0\x01", None, "Nikon::Type2", 8, "tiff", 0, "<"),
    R("Nikon3", None, "(?i:NIKON)", "Nikon::Main"),
    R("Nintendo", None, "Nintendo$", "Nintendo::Main"),
    R("Olympus", rb"(OLYMP|EPSON)\0", None, "Olympus::Main", 8),
    R("Olympus2", rb"OLYMPUS\0", None, "Olympus::Main", 12, "note"),
    R("Olympus3", rb"OM SYSTEM\0", None, "Olympus::Main", 16, "note"),
    R("Leica", None, "LEICA$", "Panasonic::Main", 8),
    R("Leica10", rb"LEICA CAMERA AG\0", None, "Panasonic::Main", 18),
    R("Panasonic", rb"Panasonic", None, "Panasonic::Main", 12),
    R("Pentax", rb"AOC\0", None, "Pentax::Main", 6),
    R("PhaseOne", rb"(?s:IIII.waR|MMMMRaw.)", None, "PhaseOne::Main", order="<"),
    R("Pentax5", rb"PENTAX \0", None, "Pentax::Main", 10, "note"),
    R("Reconyx", rb"\x01\xf1[\x02\x03]\x00", None, "Reconyx::Main", order="<"),
    R("Reconyx1", rb"\x01\xf1", "RECONYX$", "Reconyx::Main", order="<"),
    R("Reconyx2", rb"RECONYXUF\0", None, "Reconyx::Type2", order="<"),
    R("Reconyx3", rb"RECONYXH2\0", None, "Reconyx::Type3", order="<"),
    R("RicohPentax", rb"RICOH\0(II|MM)", None, "Pentax::Main", 8, "note"),
    R("Ricoh", rb"(Ricoh|RICOH)\0\0\0\0", None, "Ricoh::Main", 8),
    R("Ricoh2", rb"(Ricoh|RICOH)", None, "Ricoh::Main", 8),
    R("Samsung2", rb"(?s:\0.\0\x01\0\x07\0{3}\x04|.\0\x01\0\x07\0\x04\0{3})0100",
      "(?i:SAMSUNG)", "Samsung::Type2"),
    R("Samsung2", None, "SAMSUNG", "Samsung::Type2"),
    R("Sanyo", None, "SANYO", "Sanyo::Main", 8),
    R("Sigma", rb"(SIGMA|FOVEON)\0", None, "Sigma::Main", 10),
    R("Sony", rb"(SONY (DSC|CAM|MOBILE)|\0\0SONY PIC\0|VHAB     \0)", None, "Sony::Main", 12),
    R("Sony2", rb"SONY PI\0", None, "Olympus::Main", 12),
    R("Sony3", rb"PREMI\0", None, "Olympus::Main", 8),
    R("Sony5", None, "SONY", "Sony::Main"),
    R("Qualcomm", rb"\0{4}", None, "Qualcomm::Main", 0),
)
# Values that are no IFD (text, Kodak/HP/Reconyx binary formats): the rules above skip them.
NOT_IFD = re.compile(rb"(IIII[\x02-\x06]\0|610[\0-\x04]|\[ae_dbg_info:|VER:)")


def find_rule(note: bytes, make: str, model: str) -> Rule | None:
    """The first rule that matches the maker note (its first bytes) and the camera."""
    if NOT_IFD.match(note[:16]):
        return None
    for rule in RULES:
        if rule.prefix is not None and not re.match(rule.prefix, note[:32]):
            continue
        if rule.make is not None and not re.match(rule.make, make):
            continue
        if rule.name == "Qualcomm" and not make.startswith("Qualcomm"):
            continue
        return rule
    return None


def ifd_start(rule: Rule, note: bytes) -> int | None:
    """Where the IFD begins in the maker note (None if it cannot)."""
    if rule.start_at is None:
        return rule.start
    if len(note) < rule.start_at + 4:
        return None
    return struct.unpack_from("<I", note, rule.start_at)[0]


def byte_order(rule: Rule, note: bytes, start: int, exif_order: str) -> str:
    """The maker note's byte order: the rule's, or the one in which the IFD's entry count and
    first entry's type are plausible (ExifTool's ByteOrder 'Unknown'), else the EXIF one."""
    if rule.order:
        return rule.order
    if rule.name == "Nikon":  # its own TIFF header
        head = note[10:12]
        return "<" if head == b"II" else ">" if head == b"MM" else exif_order
    if rule.name in ("Pentax", "Pentax5", "RicohPentax"):
        head = note[start - 2 : start]
        if head in (b"II", b"MM"):
            return "<" if head == b"II" else ">"
    for bo in (exif_order, "<" if exif_order == ">" else ">"):
        if _plausible(note, start, bo):
            return bo
    return exif_order


def _plausible(note: bytes, start: int, bo: str) -> bool:
    if start + 2 + 12 > len(note):
        return False
    n = struct.unpack_from(bo + "H", note, start)[0]
    typ = struct.unpack_from(bo + "H", note, start + 4)[0]
    return 0 < n < 512 and 1 <= typ <= 13

"""What the generated tables (engine.exif.tables) do not say about a tag, one record per tag.

Read off ExifTool's Exif.pm/GPS.pm/PanasonicRaw.pm: the conversion that prints and parses the
tag (a name in engine.exif.conversions), the format ExifTool reads it with when that differs
from the file's, whether it is shown as binary data, whether it is an offset (shown relative
to the file), structure the writer maintains, or a GPS coordinate with its reference tag.
Tags whose PrintConv is a plain hash need no record: the generated value map prints them.
tests/test_conversion_tables.py checks every name here against the generated tables.
"""

from __future__ import annotations


class Rule:
    """A tag's overrides of the generated tables (all optional)."""

    __slots__ = ("conv", "read", "binary", "offset", "structure", "ref")

    def __init__(self, conv: str | None = None, read: str | None = None, binary: bool = False,
                 offset: bool = False, structure: bool = False,
                 ref: tuple[str, str] | None = None) -> None:
        self.conv = conv  # the conversion (engine.exif.conversions.CONVERSIONS)
        self.read = read  # ExifTool's Format: the format the value is read with
        self.binary = binary  # shown as "(Binary data N bytes)" (``Binary => 1``)
        self.offset = offset  # an offset shown relative to the file (``IsOffset``)
        self.structure = structure  # image structure the writer maintains: not writable
        self.ref = ref  # a coordinate: (its reference tag, the letters for + and -)

    def __repr__(self) -> str:
        return f"Rule({', '.join(f'{k}={getattr(self, k)!r}' for k in self.__slots__)})"


NONE = Rule()
_BIN = Rule(binary=True)
_UNDEF = Rule(read="undef")
_UTF8 = Rule("utf8", read="string")
_DATE = Rule("date")
_VERSION = Rule("version")
_DOTTED = Rule("dotted")
_UCS2 = Rule("ucs2", read="undef")
_LONG32 = Rule("long_binary32", structure=True)
_OFFSETS = Rule("long_binary32", structure=True, offset=True)
_LONG64 = Rule("long_binary64")
_LABEL = Rule("strip_label")
_HEX = Rule("hex", read="undef")


def _coordinate(ref: str, letters: str) -> Rule:
    return Rule("coordinate", ref=(ref, letters))


# Exif::Main and GPS::Main, by tag name.
RULES: dict[str, Rule] = {
    "Make": Rule("rstrip"), "Model": Rule("rstrip"), "Software": Rule("rstrip"),
    "Artist": Rule("rstrip"), "SubSecTime": Rule("rstrip_spaces"),
    "SubSecTimeOriginal": Rule("rstrip_spaces"), "SubSecTimeDigitized": Rule("rstrip_spaces"),
    "ModifyDate": _DATE, "DateTimeOriginal": _DATE, "CreateDate": _DATE,
    "PreviewDateTime": _DATE,
    "ExifVersion": _VERSION, "FlashpixVersion": _VERSION, "InteropVersion": _VERSION,
    "DNGVersion": _DOTTED, "DNGBackwardVersion": _DOTTED, "GPSVersionID": _DOTTED,
    "CacheVersion": Rule("dotted", read="int8u"),
    "Copyright": Rule("copyright", read="undef"),
    "ExposureTime": Rule("exposure_time"), "FNumber": Rule("fnumber"),
    "ShutterSpeedValue": Rule("exif_shutter", read="rational64s"),
    "ApertureValue": Rule("aperture"), "MaxApertureValue": Rule("aperture"),
    "ExposureCompensation": Rule("fraction", read="rational64s"),
    "SubjectDistance": Rule("metres"), "GPSAltitude": Rule("metres"),
    "GPSHPositioningError": Rule("metres_suffix"),
    "FocalLength": Rule("focal_length"), "FocalLengthIn35mmFormat": Rule("mm"),
    "AmbientTemperature": Rule("celsius"),
    "ISO": Rule("comma_list"),
    "ComponentsConfiguration": Rule("components", read="int8u"),
    "SampleFormat": Rule("enum_list"), "SubfileType": Rule("enum_bits"),
    "T4Options": Rule("bitmask"), "T6Options": Rule("bitmask"),
    "CodingMethods": Rule("bitmask"), "TIFF_FXExtensions": Rule("bitmask"),
    "MultiProfiles": Rule("bitmask"), "ImageType": Rule("bitmask"),
    "ColorSpace": Rule("enum_hex"), "Flash": Rule("enum_hex"),
    "UserComment": Rule("exif_text", read="undef"), "GPSProcessingMethod": Rule("exif_text"),
    "GPSAreaInformation": Rule("exif_text"),
    "XPTitle": _UCS2, "XPComment": _UCS2, "XPAuthor": _UCS2, "XPKeywords": _UCS2,
    "XPSubject": _UCS2, "XP_DIP_XML": _UCS2,
    "LensInfo": Rule("lens_info"), "DNGLensInfo": Rule("lens_info"),
    "CFAPattern": Rule("cfa_pattern"), "CFAPlaneColor": Rule("cfa_colors"),
    "CFAPattern2": Rule(read="int8u"),
    "GPSLatitude": _coordinate("GPSLatitudeRef", "NS"),
    "GPSLongitude": _coordinate("GPSLongitudeRef", "EW"),
    "GPSDestLatitude": _coordinate("GPSDestLatitudeRef", "NS"),
    "GPSDestLongitude": _coordinate("GPSDestLongitudeRef", "EW"),
    "GPSTimeStamp": Rule("gps_time"), "GPSDateStamp": Rule("gps_date", read="undef"),
    "RawDataUniqueID": Rule("hex_upper", read="undef"),
    "PreviewSettingsDigest": _HEX, "RawImageDigest": _HEX, "OriginalRawFileDigest": _HEX,
    "NewRawImageDigest": _HEX,
    "SpatialFrequencyResponse": Rule("sfr"),
    "LocalizedCameraModel": _UTF8, "OriginalRawFileName": _UTF8, "ProfileName": _UTF8,
    "ProfileCopyright": _UTF8, "AsShotProfileName": _UTF8, "CameraCalibrationSig": _UTF8,
    "ProfileCalibrationSig": _UTF8, "PreviewApplicationName": _UTF8,
    "PreviewApplicationVersion": _UTF8, "PreviewSettingsName": _UTF8,
    "StripOffsets": _OFFSETS, "StripByteCounts": _LONG32, "TileOffsets": _OFFSETS,
    "TileByteCounts": _LONG32, "FreeOffsets": _OFFSETS, "FreeByteCounts": _LONG32,
    "ThumbnailOffset": Rule(structure=True, offset=True), "ThumbnailLength": Rule(structure=True),
    "PreviewImageStart": Rule(structure=True, offset=True),
    "PreviewImageLength": Rule(structure=True),
    "JpgFromRawStart": Rule(structure=True, offset=True), "JpgFromRawLength": Rule(structure=True),
    "OtherImageStart": Rule(structure=True, offset=True), "OtherImageLength": Rule(structure=True),
    "MakerNotes": Rule(structure=True),
    "MakerNoteUnknownText": Rule("maker_note_text", structure=True),
    "BlackLevelDeltaH": _LONG64, "BlackLevelDeltaV": _LONG64,
    "ProfileHueSatMapData1": _LONG64, "ProfileHueSatMapData2": _LONG64,
    "ProfileHueSatMapData3": _LONG64, "ProfileToneCurve": _LONG64,
    "ProfileLookTableData": _LONG64,
    "FrameRate": Rule("round3"), "TStop": Rule("tstop"),
    # DNG's MakerNote-style "Label: value" strings (the last four are also ExifIFD tags with a
    # value map: the label step changes only "Label: value" text, numbers still map)
    "OwnerName": _LABEL, "SerialNumber": _LABEL, "Lens": _LABEL, "RawFile": _LABEL,
    "Converter": _LABEL, "WhiteBalance": _LABEL, "Exposure": _LABEL, "Shadows": _LABEL,
    "Brightness": _LABEL, "Contrast": _LABEL, "Saturation": _LABEL, "Sharpness": _LABEL,
    "Smoothness": _LABEL, "MoireFilter": _LABEL,
    "GooglePlusUploadCode": Rule(read="int8u"),
    "DNGPrivateData": Rule(read="undef", binary=True), "SamsungRawByteOrder": _UNDEF,
    "GeoTiffAsciiParams": Rule(read="undef", binary=True),
    "GeoTiffDirectory": Rule(read="undef", binary=True),
    "GeoTiffDoubleParams": Rule(read="undef", binary=True),
    "HasselbladRawImage": Rule(read="undef", binary=True),
    "ColorMap": Rule(read="binary", binary=True),
    **{name: _BIN for name in (
        "GrayResponseCurve TransferFunction JPEGTables WangTag1 WangAnnotation WangTag3 "
        "Opto-ElectricConvFactor MakerNoteUnknown MSPropertySetStorage MSDocumentTextPosition "
        "ImageSourceData DeviceSettingDescription Annotations PrintIM LinearizationTable "
        "AsShotICCProfile CurrentICCProfile OpcodeList1 OpcodeList2 OpcodeList3 "
        "ProfileGainTableMap Padding ThumbnailImage PreviewImage JpgFromRaw "
        "OtherImage").split()},
}

# PanasonicRaw::Main (IFD0 of RW2/RWL files), by tag name.
_DIV256 = Rule("divide256")
PANASONIC_RULES: dict[str, Rule] = {
    "RedBalance": _DIV256, "BlueBalance": _DIV256, "HighISOMultiplierRed": _DIV256,
    "HighISOMultiplierGreen": _DIV256, "HighISOMultiplierBlue": _DIV256,
    "Gamma": Rule("gamma"), "StripOffsets": _OFFSETS, "StripByteCounts": _LONG32,
    "Make": Rule("rstrip"), "Model": Rule("rstrip"), "PanasonicRawVersion": Rule("strip_nul"),
    "NoiseReductionParams": Rule(read="int16u"), "JpgFromRaw": _BIN,
}
REF_NAMES = frozenset(r.ref[0] for r in RULES.values() if r.ref)


def rule(name: str, panasonic: bool = False) -> Rule:
    return (PANASONIC_RULES if panasonic else RULES).get(name, NONE)

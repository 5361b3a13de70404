"""metafs engine: read and safely write photo metadata.  Public API only."""

from engine.errors import (
    CorruptFileError,
    EngineError,
    FileChangedError,
    NoBackupError,
    ReadOnlyTagError,
    TagError,
    TagValueError,
    UnknownTagError,
    UnsupportedFormatError,
    ValidationError,
    WriteError,
)
from engine.model import Metadata, TagValue
from engine.reader import read_metadata
from engine.write.writer import (
    TagSpec,
    WriteResult,
    check_value,
    restore,
    tag_spec,
    template_changes,
    write_exif_field,
    write_metadata,
    write_metadata_batch,
)

__all__ = [
    "CorruptFileError",
    "EngineError",
    "Metadata",
    "NoBackupError",
    "ReadOnlyTagError",
    "TagError",
    "TagValue",
    "TagValueError",
    "UnknownTagError",
    "UnsupportedFormatError",
    "ValidationError",
    "WriteError",
    "FileChangedError",
    "read_metadata",
    "TagSpec",
    "WriteResult",
    "check_value",
    "restore",
    "tag_spec",
    "template_changes",
    "write_exif_field",
    "write_metadata",
    "write_metadata_batch",
]

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
    # loaded when first asked for (see __getattr__): what the daemon and the CLI need beyond
    # reading and writing, so that metafs never reaches into engine modules
    "BACKUP_DIR",
    "COPY_NOTES",
    "EXTRA_PARTS",
    "PARTS",
    "READ_ONLY_TYPES",
    "SYNC_GROUPS",
    "backup_path",
    "can_read",
    "describe_tag",
    "is_temp_name",
    "list_backups",
    "list_tags",
    "open_folder",
    "sniff",
    "tag_bytes",
    "unconvert",
    "why_not_writable",
    "writable_groups",
]

# name -> (module, attribute), imported at first use: a one-tag CLI write pays for none of them
_LAZY = {
    "BACKUP_DIR": ("engine.safewrite.names", "BACKUP_DIR"),
    "COPY_NOTES": ("engine.write.changes", "COPY_NOTES"),
    "EXTRA_PARTS": ("engine.reader", "EXTRA_PARTS"),
    "PARTS": ("engine.reader", "PARTS"),
    "READ_ONLY_TYPES": ("engine.registry", "READ_ONLY_TYPES"),
    "SYNC_GROUPS": ("engine.write.changes", "SYNC_GROUPS"),
    "backup_path": ("engine.safewrite.names", "backup_path_for"),
    "can_read": ("engine.registry", "can_read"),
    "describe_tag": ("engine.tag_doc", "describe"),
    "is_temp_name": ("engine.safewrite.names", "is_temp_name"),
    "list_backups": ("engine.write.writer", "list_backups"),
    "list_tags": ("engine.tag_doc", "list_tags"),
    "open_folder": ("engine.safewrite.paths", "open_folder"),
    "sniff": ("engine.registry", "sniff"),
    "tag_bytes": ("engine.binary", "tag_bytes"),
    "unconvert": ("engine.unconverted", "unconvert"),
    "why_not_writable": ("engine.registry", "why_not_writable"),
    "writable_groups": ("engine.registry", "writable_groups"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(__import__(module, fromlist=[attr]), attr)
    globals()[name] = value
    return value

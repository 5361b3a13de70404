"""Read-only groups ExifTool shows beside EXIF, XMP and IPTC: File, JFIF, ICC_Profile,
Photoshop image resources, MPF, PrintIM, PNG chunks, and the Composite tags computed from the
others.  Each module is one ``engine.reader.EXTRA_PARTS`` part: ``read(data, blocks, md) ->
(tags, warnings)``; tag tables come from ``exiftool -listx`` (tables.py, generated)."""

"""What tests share: byte builders, ExifTool oracles, the mount helper, ``assert_refused``.

Test modules import from here (``from support.refuse import assert_refused``), never from
each other.  ``tests/`` is on ``sys.path`` (pytest puts a conftest's folder there; the
scripts that reuse these helpers insert it themselves).
"""

"""The mount's node kinds, one view each, all behind ``base.View``: SOURCE passed through
(``source``), a photo's ``NAME.meta`` folders and tag files (``meta``), the backups under
``.originals`` (``originals``) and the daemon's ``.metafs`` control folder (``control``).
metafs.fs resolves a request's node and hands it to the view of its kind."""

"""metafs: photo metadata as a filesystem."""

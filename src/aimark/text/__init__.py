"""text: per-media verbs (explicit label, watermark) land here in later issues."""

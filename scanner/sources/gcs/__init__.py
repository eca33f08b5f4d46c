"""The `gcs:` source: Google Cloud Storage buckets → `storage`, `artefact`, `principal`,
`audit_trail` (`source.py` says in what order it reads)."""

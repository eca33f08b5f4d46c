"""Writers: one per output format, each rendering results.json data and nothing else."""

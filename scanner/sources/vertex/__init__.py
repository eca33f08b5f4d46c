"""The `vertex:` source: Vertex AI Model Registry and endpoints → `model`, `model_version`,
`endpoint` (`source.py` says in what order it reads, `normalise.py` what each becomes)."""

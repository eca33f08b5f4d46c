"""AI Bill of Materials: the inventory in results.json as CycloneDX 1.6 ML-BOM and SPDX 3.0.1.

`estate` reads the models, datasets and findings out of a results document (the only input,
like every writer's), `completeness` scores how much of each model's BOM is known, and
`cyclonedx` / `spdx` render the two formats. The writers in `scanner.outputs` are thin
adapters over these modules.
"""

"""Container images that bundle model weights: registries, OCI layouts, docker archives.

`source.py` is the entry point (`OciSource`); `client.py` speaks the distribution API,
`stores.py` reads layouts and archives, `manifests.py` resolves references to images,
`layers.py` streams layers, `capture.py` keeps what model files need, `filesystem.py` applies
whiteouts, `image.py` builds each image's artefact through the shared object-store builder,
and `signatures.py` finds cosign signatures (verified by `scanner.artefacts.signatures.cosign`).
"""

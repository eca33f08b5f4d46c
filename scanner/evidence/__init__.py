"""Evidence packs: a scan's results and everything they rest on, in one signed zip.

`modelward scan --evidence-pack FILE.zip` writes one; `modelward evidence verify` checks one
offline. The modules, in the order a pack is made:
- `settings.py`: the scan's settings as evaluated (settings.json), read back for re-evaluation;
- `pack.py`: the evidence members (results, policies, mappings, inputs, masked configuration,
  raw source answers), then the outputs, the manifest and the signature;
- `manifest.py`: the layout, the manifest and the evidence digest the reports show;
- `statement.py`: the in-toto statement (subjects: every member; predicate: the scan);
- `signers.py`: key, certificate and Sigstore keyless signing into a Sigstore bundle;
- `archive.py`: the reproducible zip, and reading a hostile one without extracting it;
- `dsse.py`: verifying the bundle with a key, a certificate chain or a Sigstore identity;
- `check.py`: a pack's structure, signature and digests, in the order trust is established;
- `compare.py`: archived results against the same scan judged again, in words.

This package sits beside `outputs` in the layers: it reads results and the inventory, never
sources, and the commands hand it what it needs from the scan pipeline.
"""

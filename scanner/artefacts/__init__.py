"""What is inside a model artefact: file formats, content hashes, signatures, serialization safety.

Everything here treats model files as hostile input: bounded reads, no unpickling, no imports.
"""

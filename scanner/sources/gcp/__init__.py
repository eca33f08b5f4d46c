"""What the Google Cloud sources (`gcs:`, `vertex:`) share: spec options, credentials, calls.

`options.py` parses `KEY=VALUE` specs without importing any Google library; `calls.py` is the
one place where a Google API answer becomes a value, an `Unknown` naming the permission, a
retry, or a failed source; `rest.py` reads the REST APIs that have no client library in the
install (Resource Manager, Access Context Manager, IAM, Vertex AI) with google-auth's
`AuthorizedSession`, through `calls.py`.
"""

"""The `access-logs:` source: who read which bucket's objects, from CloudTrail data events or
S3 server access logs (docs/sources/access-logs.md)."""

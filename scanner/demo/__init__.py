"""`modelward demo`: a local estate (MLflow registry + emulated AWS account) seeded with a
realistic mix of well-kept and misconfigured models, scanned end to end.

Needs the `demo` extra (`pip install 'modelward[demo]'`: the full MLflow server and the moto
server); `make demo` installs it.
"""

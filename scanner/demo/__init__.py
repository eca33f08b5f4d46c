"""`modelward demo`: a local estate (MLflow registry + emulated AWS account) seeded with a
realistic mix of well-kept and misconfigured models, scanned end to end.

Needs the `demo` extra (`pip install 'modelward[demo]'`: the full MLflow server and the moto
server); `make demo` installs it.
"""

# MLflow listens here and the emulated AWS account on the next port, in every run (see
# `scanner.demo.runner.choose_ports`); here, where `modelward --help` can read it cheaply.
DEFAULT_PORT = 27100

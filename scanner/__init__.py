"""modelward: policy-as-code compliance scanner for machine-learning model IP protection."""

__version__ = "0.1.0"

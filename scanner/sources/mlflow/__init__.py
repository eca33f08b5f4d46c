"""The `mlflow:` source (docs/sources/mlflow.md): registry, runs, logged models, artefacts."""

from scanner.sources.mlflow.source import MlflowSource

__all__ = ["MlflowSource"]

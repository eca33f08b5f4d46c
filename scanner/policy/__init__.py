"""The policy language: schema, loading with line-numbered errors, conditions, evaluation."""

"""The `models` function: the model registry (models, immutable versions, uploads, activation)."""

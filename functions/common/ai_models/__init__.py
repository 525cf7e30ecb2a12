"""AI models: the model and version tables that sharing and publication use (the models issue extends them)."""

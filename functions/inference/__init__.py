"""The `inference` function: running a model on a series as a durable job, and the results it stored."""

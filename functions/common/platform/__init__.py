"""Platform plumbing: settings, the database and migrations, errors, logs, mail and object storage."""

"""Accounts: the tables of users, their sign-in sessions and tokens, social identities and certificates.
The `auth` function holds the logic; every function reads these rows."""

"""Access control: the one permission model (`policy.py`), the group and share tables (`tables.py`), and
the access requirements routes declare (`requirements.py`)."""

"""Numbered Alembic revisions (``0001_core.py``, ``0002_knowledge.py`` ...). Alembic skips this file."""

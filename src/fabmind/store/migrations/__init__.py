"""Alembic migrations of the store, run programmatically when a :class:`~fabmind.store.Store` opens.

Revisions live in ``versions/``, one file per numbered revision, a linear chain:
``0001`` core (store), ``0002`` knowledge, ``0003`` agents, ``0004`` service, ``0005`` monitor,
``0006`` models registry. Every ``*.py`` file in ``versions/`` is discovered; a new room adds
``versions/00NN_<room>.py`` with ``revision = "00NN"`` and ``down_revision`` = the previous number,
and creates the tables it defines on :data:`fabmind.store.schema.metadata` (see ``0001_core.py``).
"""

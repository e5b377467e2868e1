"""Fixtures of the knowledge tests: an SQLite engine with the knowledge tables, the shipped embedder, documents."""

from __future__ import annotations

import pytest
from knowledge_docs import FMEA_CSV, MANUAL_MD, TICKETS_CSV
from sqlalchemy import create_engine


@pytest.fixture()
def engine(tmp_path):
    from fabmind.knowledge import create_tables

    eng = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    create_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def embedder():
    from fabmind.knowledge import load_embedder

    emb = load_embedder()
    assert emb is not None, "the shipped static model (knowledge/data/minilm-static) must load"
    return emb


@pytest.fixture()
def kb(engine):
    from fabmind.knowledge import KnowledgeBase

    return KnowledgeBase(engine, embedder=None)


@pytest.fixture()
def docs_dir(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "fmea_dryetch.csv").write_text(FMEA_CSV)
    (d / "tickets.csv").write_text(TICKETS_CSV)
    (d / "dryetch_manual.md").write_text(MANUAL_MD)
    return d

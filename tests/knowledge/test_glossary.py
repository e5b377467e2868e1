"""The glossary learned from documents: acronyms and code definitions widen queries."""

from __future__ import annotations

from fabmind.domain import Document
from fabmind.knowledge.glossary import Glossary, _long_form


def test_acronym_definitions_are_found():
    assert _long_form("the helium at the back of the electrostatic chuck", "ESC") == "electrostatic chuck"
    assert _long_form("thermal mass flow controllers", "MFC") == "mass flow controllers"
    assert _long_form("the wafer", "ESC") is None


def test_query_expansion_both_ways():
    g = Glossary.learn(["Optical emission spectroscopy (OES) monitors the plasma."],
                       [{"code": "E-VAC-220", "message": "base pressure high"}])
    assert "Optical emission spectroscopy" in g.expand_query("OES peak at 337 nm")
    assert g.expand_query("optical emission spectroscopy drift").endswith("OES")
    assert g.expand_query("what is E-VAC-220").endswith("base pressure high")
    assert g.expand_query("nothing to add") == "nothing to add"


def test_knowledge_base_uses_acronyms_from_its_documents(engine):
    from fabmind.knowledge import KnowledgeBase

    doc = Document(doc_id="m", title="M", kind="manual", content=(
        "# M\n## Intro\nThe electrostatic chuck (ESC) clamps the glass.\n"
        "## Helium\nHelium at the back cools the electrostatic chuck.\n## Pump\nThe dry pump runs hot."))
    with_glossary = KnowledgeBase(engine, embedder=None)
    with_glossary.add(doc)
    sections = {h.citation.section for h in with_glossary.search("ESC", k=3)}
    assert sections == {"M > Intro", "M > Helium"}
    assert with_glossary.glossary.acronyms == {"ESC": "electrostatic chuck"}
    plain = KnowledgeBase(engine, embedder=None, glossary=False)
    assert {h.citation.section for h in plain.search("ESC", k=3)} == {"M > Intro"}

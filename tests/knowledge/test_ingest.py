"""Ingest of every format, structure-keeping chunks, replace-on-change and skip-if-unchanged."""

from __future__ import annotations

import io

import pytest
from knowledge_docs import MANUAL_MD, minimal_pdf

from fabmind.domain import Document
from fabmind.knowledge import DocumentFormatError, KnowledgeBase


def test_markdown_sections_become_section_paths(kb, docs_dir):
    report = kb.add(docs_dir / "dryetch_manual.md")
    assert report.added == 1 and report.documents[0].kind == "manual"
    sections = {c.section for c in kb.chunks("dryetch_manual.md")}
    assert "DRYETCH-X maintenance manual > RF subsystem > Alarm codes" in sections
    assert "DRYETCH-X maintenance manual > Vacuum subsystem > Leak checking" in sections
    alarm = next(c for c in kb.chunks("dryetch_manual.md") if c.section.endswith("Alarm codes"))
    assert "E-RF-101" in alarm.text and "helium" not in alarm.text.lower()


def test_plain_text_numbered_headings(kb, tmp_path):
    path = tmp_path / "sop_wet_clean.txt"
    path.write_text("Wet clean procedure\n\n1 SAFETY\n\nWear gloves and a face shield.\n\n"
                    "2 Procedure\n\n2.1 Venting\n\nVent the chamber with nitrogen to atmosphere.\n\n"
                    "2.2 Wipe down\n\nWipe the lid with IPA.\n")
    kb.add(path)
    by_text = {c.text: c.section for c in kb.chunks("sop_wet_clean.txt")}
    assert by_text["Vent the chamber with nitrogen to atmosphere."] == "2 Procedure > 2.1 Venting"
    assert by_text["Wipe the lid with IPA."] == "2 Procedure > 2.2 Wipe down"
    assert by_text["Wear gloves and a face shield."] == "1 SAFETY"
    assert kb.documents()[0]["kind"] == "sop"


def test_html_headings_and_no_script(kb, tmp_path):
    path = tmp_path / "track_notes.html"
    path.write_text("<html><head><title>Track notes</title><script>var x = 'ignore me';</script></head><body>"
                    "<h1>Coat track</h1><p>Overview of the track.</p><h2>Hot plate</h2>"
                    "<p>Edge zone runs &lt;2 &deg;C below set point when the SSR fails.</p>"
                    "<h2>Dispense</h2><ul><li>Check the filter</li><li>Weigh a shot</li></ul></body></html>")
    kb.add(path)
    chunks = kb.chunks("track_notes.html")
    assert kb.documents()[0]["title"] == "Track notes"
    hot = next(c for c in chunks if "SSR" in c.text)
    assert hot.section == "Coat track > Hot plate" and "<2 °C" in hot.text
    assert not any("ignore me" in c.text for c in chunks)
    assert next(c for c in chunks if "Weigh a shot" in c.text).section == "Coat track > Dispense"


def test_pdf_made_in_the_test_keeps_pages_and_sections(kb, tmp_path):
    pdf = minimal_pdf([
        ["PECVD-X SERVICE GUIDE", "", "1 Heater", "", "The susceptor heater has two zones.",
         "Zone 2 is the outer zone."],
        ["2 Gas delivery", "", "The SiH4 mass flow controller is calibrated every quarter.",
         "A rate-of-rise test verifies the flow."],
    ], title="PECVD-X service guide")
    path = tmp_path / "pecvd_service_manual.pdf"
    path.write_bytes(pdf)
    report = kb.add(path, type_id="PECVD-X")
    assert report.documents[0].format == "pdf" and report.documents[0].chunks >= 2
    chunks = kb.chunks("pecvd_service_manual.pdf")
    heater = next(c for c in chunks if "two zones" in c.text)
    mfc = next(c for c in chunks if "calibrated every quarter" in c.text)
    assert (heater.page, mfc.page) == (1, 2)
    assert heater.section.endswith("1 Heater") and mfc.section.endswith("2 Gas delivery")
    hit = kb.search("how often is the silane flow controller calibrated", k=1)[0]
    assert hit.citation.page == 2 and hit.citation.title == "PECVD-X service guide"


def test_corrupt_pdf_names_the_file(kb, tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(DocumentFormatError, match="broken.pdf"):
        kb.add(path)


def test_csv_rows_cite_the_spreadsheet_row_and_detect_fmea(kb, docs_dir):
    report = kb.add(docs_dir / "fmea_dryetch.csv")
    assert report.documents[0].kind == "fmea" and report.documents[0].chunks == 8
    chunk = next(c for c in kb.chunks("fmea_dryetch.csv") if c.fields["failure_mode"] == "throttle valve sticking")
    assert chunk.row == 3  # header is row 1, the throttle valve is the 2nd data row
    assert chunk.section == "DRYETCH-X > vacuum > throttle valve sticking"
    assert chunk.fields["alarm_codes"] == "E-VAC-201; E-VAC-202"
    assert kb.add(docs_dir / "tickets.csv").documents[0].kind == "ticket"


def test_excel_sheets_rows_and_cells(kb, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "FMEA"
    ws.append(["equipment_type", "subsystem", "failure_mode", "symptoms", "alarm_codes", "checks", "actions"])
    ws.append(["TRACK-X", "bake", "hot plate edge zone failure", "HOTPLATE_EDGE_C:down; HOTPLATE_POWER_PCT:up",
               "E-BAK-601", "map hot plate", "replace edge-zone heater"])
    ws2 = wb.create_sheet("Spares")
    ws2.append(["part", "stock"])
    ws2.append(["edge-zone heater", 2])
    buf = io.BytesIO()
    wb.save(buf)
    path = tmp_path / "track_fmea.xlsx"
    path.write_bytes(buf.getvalue())
    kb.add(path)
    chunks = kb.chunks("track_fmea.xlsx")
    fmea = next(c for c in chunks if c.fields.get("failure_mode"))
    spare = next(c for c in chunks if c.fields.get("part"))
    assert fmea.row == 2 and fmea.section == "TRACK-X > bake > hot plate edge zone failure"
    assert spare.row == 2 and spare.section.startswith("Spares") and spare.fields["stock"] == "2"


def test_changed_document_replaces_chunks_unchanged_is_skipped(kb, tmp_path):
    path = tmp_path / "etch_manual.md"
    path.write_text(MANUAL_MD)
    first = kb.add(path).documents[0]
    assert first.status == "added"
    assert kb.add(path).documents[0].status == "unchanged"
    path.write_text(MANUAL_MD.replace("helium leak check", "rate-of-rise and helium leak check") +
                    "\n## Spare parts\n\nKeep two lid O-rings in stock.\n")
    second = kb.add(path).documents[0]
    assert second.status == "replaced" and second.chunks == first.chunks + 1
    chunks = kb.chunks("etch_manual.md")
    assert len(chunks) == second.chunks  # old chunks gone, none duplicated
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert any("Keep two lid O-rings" in c.text for c in chunks)
    assert len(kb.documents()) == 1
    assert kb.search("spare lid o-rings in stock", k=1)[0].citation.section.endswith("Spare parts")


def test_folder_ingest_and_domain_documents(kb, docs_dir):
    report = kb.add(docs_dir)
    assert report.added == 3 and report.chunks == sum(d.chunks for d in report.documents)
    doc = Document(doc_id="sop-etch-pm", title="Etch PM SOP", kind="sop", format="md", type_id="DRYETCH-X",
                   content="# Etch PM\n## Seasoning\nRun the seasoning recipe for 20 minutes after a wet clean.")
    assert kb.add([doc]).added == 1
    assert {d["doc_id"] for d in kb.documents(kind="sop")} == {"sop-etch-pm"}


def test_unknown_inputs_are_named(kb, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.md"):
        kb.add(tmp_path / "nowhere.md")
    (tmp_path / "drawing.dwg").write_bytes(b"\0")
    with pytest.raises(DocumentFormatError, match="drawing.dwg"):
        kb.add(tmp_path / "drawing.dwg")


def test_long_sections_are_split_but_keep_their_section(kb):
    body = " ".join(f"Sentence {i} about the RF match capacitor position." for i in range(120))
    kb.add(Document(doc_id="long", title="Long", kind="manual", content=f"# Long\n## RF\n{body}"))
    chunks = kb.chunks("long")
    assert len(chunks) > 3 and all(c.section == "Long > RF" for c in chunks)
    assert all(len(c.text.split()) <= 160 for c in chunks)


def test_store_migration_creates_knowledge_tables(store):
    """Alembic revision 0002 creates the tables: a KnowledgeBase works on a fresh Store with no setup."""
    kb = KnowledgeBase(store, embedder=None)
    kb.add(Document(doc_id="m", title="M", kind="manual", content="# M\n## Pump\nThe dry pump runs hot."))
    assert kb.search("pump temperature", k=1)[0].citation.section == "M > Pump"


def test_markdown_table_rows_are_their_own_passages(kb):
    kb.add(Document(doc_id="man", title="Manual", kind="manual", content=(
        "# Manual\n## Alarm codes\nThe table lists every alarm.\n\n| code | message |\n|---|---|\n"
        "| E-RF-101 | RF reflected power above limit |\n| E-VAC-220 | base pressure high |\n")))
    rows = [c for c in kb.chunks("man") if c.fields]
    assert [c.fields["code"] for c in rows] == ["E-RF-101", "E-VAC-220"]
    assert rows[1].text == "code: E-VAC-220; message: base pressure high" and rows[1].section == "Manual > Alarm codes"
    hit = kb.search("E-VAC-220", k=1)[0]
    assert hit.chunk_id == rows[1].chunk_id

"""Document formats → structural pieces (section path, page, row), before size-based chunking.

One function per format, each returning :class:`Piece` objects in reading order:

* Markdown: ``#`` headings give the section path (``Manual > RF subsystem > Alarms``); code fences are kept;
  each row of a pipe table is its own piece (``code: E-RF-101; message: ...``) so citations point at the row.
* Plain text: blank-line paragraphs; short title-like lines (``3.2 RF matching``) open sections.
* HTML: ``<h1>``..``<h6>`` give the section path; scripts and styles are dropped.
* PDF (pypdf): text per page, headings detected as in plain text; the section path carries across pages.
* CSV / Excel (openpyxl): one piece per table row with its cells, ``row`` = spreadsheet row (header = 1).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

SECTION_SEP = " > "


class DocumentFormatError(ValueError):
    """A document could not be parsed; the message names the document and the reason."""


@dataclass
class Piece:
    text: str
    section: str = ""
    page: int | None = None
    row: int | None = None
    fields: dict[str, str] | None = None


@dataclass
class ParsedDocument:
    title: str
    pieces: list[Piece]
    columns: list[str] | None = None  # for tables: the header


# --------------------------------------------------------------------------- markdown

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _md_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_markdown(text: str) -> ParsedDocument:
    """Headings give the section path; each row of a pipe table becomes its own piece (``header: cell; ...``)."""
    stack: list[tuple[int, str]] = []
    pieces: list[Piece] = []
    buf: list[str] = []
    title = ""
    in_fence = False
    lines = text.splitlines()

    def path() -> str:
        return SECTION_SEP.join(h for _, h in stack)

    def flush() -> None:
        body = "\n".join(buf).strip()
        buf.clear()
        if body:
            pieces.append(Piece(body, path()))

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _FENCE.match(line):
            in_fence = not in_fence
            buf.append(line)
            continue
        if not in_fence and line.lstrip().startswith("|") and i < len(lines) and _MD_TABLE_SEP.match(lines[i]):
            flush()
            header = _md_cells(line)
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = _md_cells(lines[i])
                i += 1
                row = "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells) if c)
                if row:
                    pieces.append(Piece(row, path(), fields={h or f"column_{j + 1}": c for j, (h, c)
                                                             in enumerate(zip(header, cells))}))
            continue
        m = None if in_fence else _MD_HEADING.match(line)
        if m:
            flush()
            level, heading = len(m.group(1)), _strip_md(m.group(2))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            if level == 1 and not title:
                title = heading
        else:
            buf.append(line)
    flush()
    return ParsedDocument(title, pieces)


def _strip_md(s: str) -> str:
    return re.sub(r"[*_`]", "", s).strip()


# --------------------------------------------------------------------------- plain text (and PDF pages)

_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")


def _is_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 80 or s.endswith((".", ",", ";", ":", "?", "!")):
        return False
    if _NUMBERED_HEADING.match(s) and len(s.split()) <= 10:
        return True
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters) and len(s.split()) <= 8


def _heading_level(line: str) -> int:
    m = _NUMBERED_HEADING.match(line.strip())
    return m.group(1).count(".") + 1 if m else 1


class _SectionTracker:
    """Keeps the section path while reading lines; numbered headings nest by their depth."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, str]] = []

    def push(self, line: str) -> None:
        level = _heading_level(line)
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, line.strip()))

    @property
    def path(self) -> str:
        return SECTION_SEP.join(h for _, h in self.stack)


def _paragraph_pieces(lines: list[str], tracker: _SectionTracker, page: int | None) -> list[Piece]:
    pieces: list[Piece] = []
    buf: list[str] = []

    def flush() -> None:
        body = "\n".join(buf).strip()
        buf.clear()
        if body:
            pieces.append(Piece(body, tracker.path, page=page))

    for i, line in enumerate(lines):
        prev_blank = i == 0 or not lines[i - 1].strip()
        if _is_heading(line) and (prev_blank or not buf):
            flush()
            tracker.push(line)
        elif not line.strip():
            flush()
        else:
            buf.append(line.rstrip())
    flush()
    return pieces


def parse_text(text: str) -> ParsedDocument:
    tracker = _SectionTracker()
    lines = text.splitlines()
    pieces = _paragraph_pieces(lines, tracker, None)
    title = next((ln.strip() for ln in lines if ln.strip()), "")[:120]
    return ParsedDocument(title, pieces)


# --------------------------------------------------------------------------- HTML


class _HtmlSections(HTMLParser):
    _BLOCK = frozenset({"p", "div", "li", "tr", "br", "pre", "table", "ul", "ol", "section", "article", "dd", "dt", "blockquote"})
    _SKIP = frozenset({"script", "style", "noscript", "template", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[int, str]] = []
        self.pieces: list[Piece] = []
        self.buf: list[str] = []
        self.heading: list[str] | None = None
        self.heading_level = 0
        self.skip = 0
        self.title = ""
        self.in_title = False

    def _flush(self) -> None:
        body = re.sub(r"[ \t]+", " ", "".join(self.buf))
        body = "\n".join(ln.strip() for ln in body.splitlines() if ln.strip())
        self.buf.clear()
        if body:
            self.pieces.append(Piece(body, SECTION_SEP.join(h for _, h in self.stack)))

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title":
            self.in_title = True
        if tag in self._SKIP:
            self.skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.heading, self.heading_level = [], int(tag[1])
        elif tag in self._BLOCK:
            self.buf.append("\n")
        elif tag in ("td", "th"):
            self.buf.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self.heading is not None:
            text = " ".join("".join(self.heading).split())
            while self.stack and self.stack[-1][0] >= self.heading_level:
                self.stack.pop()
            if text:
                self.stack.append((self.heading_level, text))
                if self.heading_level == 1 and not self.title:
                    self.title = text
            self.heading = None
        elif tag in self._BLOCK:
            self.buf.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title and not self.title:
            self.title = data.strip()
        if self.skip:
            return
        (self.heading if self.heading is not None else self.buf).append(data)


def parse_html(text: str) -> ParsedDocument:
    parser = _HtmlSections()
    parser.feed(text)
    parser.close()
    parser._flush()
    return ParsedDocument(parser.title, parser.pieces)


# --------------------------------------------------------------------------- PDF


def parse_pdf(data: bytes, name: str = "document.pdf") -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise DocumentFormatError(f"{name}: not a readable PDF ({exc})") from exc
    tracker = _SectionTracker()
    pieces: list[Piece] = []
    for number, text in enumerate(pages, start=1):
        pieces.extend(_paragraph_pieces(text.splitlines(), tracker, number))
    title = ""
    meta = reader.metadata
    if meta is not None and meta.title:
        title = str(meta.title)
    elif pages:
        title = next((ln.strip() for ln in pages[0].splitlines() if ln.strip()), "")[:120]
    return ParsedDocument(title, pieces)


# --------------------------------------------------------------------------- tables

FMEA_COLUMNS = ("equipment_type", "subsystem", "failure_mode", "symptoms", "alarm_codes", "checks", "actions")
TICKET_COLUMNS = ("ticket_id", "symptom_text", "root_cause", "failure_mode", "action")


def table_kind(columns: list[str]) -> str:
    """``fmea``, ``ticket`` or ``table``, from the header."""
    cols = set(columns)
    if set(FMEA_COLUMNS) <= cols:
        return "fmea"
    if set(TICKET_COLUMNS) <= cols:
        return "ticket"
    return "table"


def _row_section(kind: str, fields: dict[str, str], sheet: str) -> str:
    if kind == "fmea":
        return SECTION_SEP.join(fields[c] for c in ("equipment_type", "subsystem", "failure_mode") if fields.get(c))
    if kind == "ticket":
        return fields.get("ticket_id", "")
    first = next((v for v in fields.values() if v), "")
    return SECTION_SEP.join(s for s in (sheet, first[:60]) if s)


def row_text(kind: str, fields: dict[str, str]) -> str:
    """A table row as readable text (what is indexed and shown)."""
    if kind == "fmea":
        order = ["failure_mode", "equipment_type", "subsystem", "symptoms", "alarm_codes", "checks", "actions"]
    elif kind == "ticket":
        order = ["ticket_id", "symptom_text", "root_cause", "failure_mode", "action", "sensors", "alarm_codes",
                 "equipment_type", "equipment_id", "chamber_id", "downtime_h", "opened"]
    else:
        order = []
    keys = order + [k for k in fields if k not in order]
    return "\n".join(f"{k.replace('_', ' ')}: {fields[k]}" for k in keys if fields.get(k, "").strip())


def _table_pieces(rows: list[list[str]], sheet: str, first_row_number: int) -> tuple[list[Piece], list[str]]:
    """``rows`` including the header; ``first_row_number`` is the spreadsheet number of ``rows[0]``."""
    start = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if start is None:
        return [], []
    header = [c.strip() for c in rows[start]]
    columns = [h or f"column_{j + 1}" for j, h in enumerate(header)]
    kind = table_kind(columns)
    pieces = []
    for i, raw in enumerate(rows[start + 1 :], start=start + 1):
        cells = [(c or "").strip() for c in raw]
        if not any(cells):
            continue
        fields = {col: (cells[j] if j < len(cells) else "") for j, col in enumerate(columns)}
        pieces.append(Piece(row_text(kind, fields), _row_section(kind, fields, sheet),
                            row=first_row_number + i, fields=fields))
    return pieces, columns


def parse_csv(text: str, name: str = "table.csv") -> ParsedDocument:
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    pieces, columns = _table_pieces(rows, "", 1)
    if not columns:
        raise DocumentFormatError(f"{name}: empty table (no header row)")
    return ParsedDocument(_file_name(name), pieces, columns)


def _file_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def parse_xlsx(data: bytes, name: str = "table.xlsx") -> ParsedDocument:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise DocumentFormatError(f"{name}: not a readable Excel workbook ({exc})") from exc
    pieces: list[Piece] = []
    columns: list[str] = []
    for ws in wb.worksheets:
        rows = [["" if c is None else str(c) for c in r] for r in ws.iter_rows(values_only=True)]
        sheet_pieces, sheet_cols = _table_pieces(rows, ws.title if len(wb.worksheets) > 1 else "", 1)
        pieces.extend(sheet_pieces)
        columns = columns or sheet_cols
    wb.close()
    return ParsedDocument(_file_name(name), pieces, columns)


def parse(content: str | bytes, fmt: str, name: str) -> ParsedDocument:
    """Dispatch on format: md, txt, html, pdf, csv, xlsx."""
    if fmt in ("pdf", "xlsx"):
        if isinstance(content, str):
            raise DocumentFormatError(f"{name}: {fmt} content must be bytes")
        return parse_pdf(content, name) if fmt == "pdf" else parse_xlsx(content, name)
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    if fmt == "md":
        return parse_markdown(text)
    if fmt == "txt":
        return parse_text(text)
    if fmt == "html":
        return parse_html(text)
    if fmt == "csv":
        return parse_csv(text, name)
    raise DocumentFormatError(f"{name}: unsupported format {fmt!r} (md, txt, html, pdf, csv, xlsx)")


FORMAT_BY_SUFFIX = {
    ".md": "md", ".markdown": "md", ".txt": "txt", ".text": "txt", ".log": "txt", ".html": "html",
    ".htm": "html", ".pdf": "pdf", ".csv": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
}

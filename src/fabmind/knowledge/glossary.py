"""A glossary learned from the documents themselves, used to widen what a search can match.

Two sources, both found automatically at index time (no hand-made thesaurus):

* acronym definitions in running text, ``electrostatic chuck (ESC)`` (Schwartz & Hearst, 2003): a query
  saying ``ESC`` also matches passages saying ``electrostatic chuck`` and the other way round;
* table rows that define a code, e.g. a manual's sensor table (``sensor: RF_REFL_W; description: RF reflected
  power``) or alarm table (``code: E-RF-101; message: RF reflected power above limit``): a chunk that only
  names ``RF_REFL_W:up`` (an FMEA row, a ticket) is also indexed with the words of its definition.

    >>> g = Glossary.learn(["Gases flow through mass flow controllers (MFC) on the panel."],
    ...                    [{"sensor": "RF_REFL_W", "description": "reflected RF power"}])
    >>> g.expand_query("MFC drift")
    'MFC drift mass flow controllers'
    >>> g.expand_document("symptoms: RF_REFL_W:up")
    'reflected RF power'
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

_ACRONYM = re.compile(r"\(([A-Z][A-Za-z0-9]{1,7})\)")
_CODE_KEYS = ("sensor", "code", "name", "alarm", "tag", "parameter")
_DEFINITION_KEYS = ("description", "message", "meaning", "definition")
_CODE_TOKEN = re.compile(r"\b[A-Z][A-Z0-9]*(?:[_\-][A-Z0-9]+)+\b")


def _long_form(before: str, abbr: str) -> str | None:
    """Schwartz-Hearst: the shortest span before '(ABBR)' whose characters spell the abbreviation in order."""
    words = before.split()[-min(len(abbr) + 5, 2 * len(abbr)):]
    text = " ".join(words)
    a, t = len(abbr) - 1, len(text) - 1
    while a >= 0:
        c = abbr[a].lower()
        if not c.isalnum():
            a -= 1
            continue
        while t >= 0 and (text[t].lower() != c or (a == 0 and t > 0 and text[t - 1].isalnum())):
            t -= 1
        if t < 0:
            return None
        a, t = a - 1, t - 1
    start = text.rfind(" ", 0, t + 1) + 1
    long = text[start:].strip(" ,;:")
    return long if len(long) > len(abbr) and " " in long else None


class Glossary:
    def __init__(self, acronyms: Mapping[str, str], codes: Mapping[str, Iterable[str]]) -> None:
        self.acronyms = dict(acronyms)  # ESC -> electrostatic chuck
        self._long_to_short = {v.lower(): k for k, v in self.acronyms.items()}
        self.codes = {k: tuple(dict.fromkeys(v)) for k, v in codes.items()}  # RF_REFL_W -> (descriptions)

    @classmethod
    def learn(cls, texts: Iterable[str], rows: Iterable[Mapping[str, str]]) -> Glossary:
        acronyms: dict[str, str] = {}
        for text in texts:
            for m in _ACRONYM.finditer(text):
                abbr = m.group(1)
                long = _long_form(text[: m.start()].rstrip()[-200:], abbr)
                if long and abbr not in acronyms:
                    acronyms[abbr] = long
        codes: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            lower = {k.lower(): v for k, v in row.items()}
            code = next((lower[k] for k in _CODE_KEYS if lower.get(k)), "")
            definition = next((lower[k] for k in _DEFINITION_KEYS if lower.get(k)), "")
            if code and definition and _CODE_TOKEN.fullmatch(code.strip()):
                codes[code.strip()].append(definition.strip())
        return cls(acronyms, codes)

    def __len__(self) -> int:
        return len(self.acronyms) + len(self.codes)

    def expand_document(self, text: str) -> str:
        """Extra words to index with ``text``: the definitions of the codes it names (deduplicated)."""
        extra: list[str] = []
        for code in dict.fromkeys(_CODE_TOKEN.findall(text)):
            extra.extend(d for d in self.codes.get(code, ()) if d not in extra and d not in text)
        return " ".join(extra)

    def expand_query(self, query: str) -> str:
        """The query plus the long forms of the acronyms it uses and the acronyms of the long forms it spells."""
        extra: list[str] = []
        for abbr in re.findall(r"\b[A-Z][A-Za-z0-9]{1,7}\b", query):
            if abbr in self.acronyms:
                extra.append(self.acronyms[abbr])
        low = query.lower()
        extra += [abbr for long, abbr in self._long_to_short.items() if long in low and abbr not in query]
        for code in _CODE_TOKEN.findall(query):
            extra.extend(self.codes.get(code, ())[:1])
        return " ".join([query, *dict.fromkeys(extra)])

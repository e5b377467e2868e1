"""Self-contained HTML: one file, charts as inline SVG, CSS inline, no script and no CDN (plants are
air-gapped). Every ``[R<n>]`` citation links to the tool result in the evidence appendix; every
chart's caption links to the results it plots; unverified claims are highlighted."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC
from typing import Any

from jinja2 import Environment

from fabmind.agents.report import Answer, Report
from fabmind.agents.tools import Evidence, to_jsonable
from fabmind.reports.charts import to_svg

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1d2733;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #d5dbe1;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#5b6b7b;font-size:.9rem}.badge{display:inline-block;padding:.1rem .5rem;border-radius:.6rem;
font-size:.85rem;margin-right:.4rem;background:#e8eef5}.ok{background:#d7f0dd;color:#1e6b33}
.warn{background:#fde2d5;color:#8a3412}mark.unverified{background:#fde2d5;color:#8a3412}
a.cite{text-decoration:none;font-size:.85em;color:#3b6ea5}table{border-collapse:collapse;font-size:.9rem}
td,th{border:1px solid #d5dbe1;padding:.2rem .5rem}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#5b6b7b}details{margin:.3rem 0}pre{background:#f5f7f9;padding:.5rem;
overflow-x:auto;font-size:.78rem;white-space:pre-wrap}.warning{color:#8a3412}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title><style>{{ css }}</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{% if window %}{{ window }} · {% endif %}created {{ created }}</p>
<p><span class="badge">{{ mode_label }}</span>
<span class="badge {{ 'ok' if n_unverified == 0 else 'warn' }}">{{ claims_summary }}</span></p>
{% for w in warnings %}<p class="warning">⚠ {{ w }}</p>{% endfor %}
{% for s in sections %}
<section id="{{ s.anchor }}"><h2>{{ s.title }}</h2>
{{ s.html }}
{% for f in s.figures %}<figure id="fig-{{ f.id }}">{{ f.svg }}<figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}
</section>
{% endfor %}
<section id="evidence"><h2>Evidence</h2>
<p class="meta">Every tool result this {{ kind }} relied on. Citations like [R1] link here.</p>
{% for r in results %}<details id="{{ r.id }}"><summary><b>{{ r.id }}</b> {{ r.tool }}({{ r.args }}){% if r.error %}
<span class="warning"> error</span>{% endif %}</summary><pre>{{ r.body }}</pre></details>
{% endfor %}
{% if unverified %}<h3>Unverified claims</h3><ul>{% for u in unverified %}<li>{{ u }}</li>{% endfor %}</ul>{% endif %}
</section>
</body></html>
"""

_env = Environment(autoescape=False)  # values are escaped explicitly below (the SVG must pass through)


_MARK = '<mark class="unverified" title="not found in any tool result or cited passage">{}</mark>'


def markdown_to_html(text: str, unverified: list[str] = ()) -> str:  # type: ignore[assignment]
    """Markdown -> HTML with [R<n>] citations linked to the evidence and unverified claims highlighted."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    out = md.render(text)
    out = re.sub(r"\[(R\d+(?:\s*,\s*R\d+)*)\]", lambda m: " ".join(
        f'<a class="cite" href="#{rid.strip()}">[{rid.strip()}]</a>' for rid in m.group(1).split(",")), out)
    for claim in sorted(set(unverified), key=len, reverse=True):
        esc = html.escape(claim)
        out = out.replace(f"{esc} [unverified]", _MARK.format(esc))
    return re.sub(r"(\S+) \[unverified\]", lambda m: _MARK.format(m.group(1)), out)


def _results(evidence: Evidence, max_chars: int = 6000) -> list[dict[str, Any]]:
    rows = []
    for r in evidence.results:
        body = r.error if r.error else json.dumps(to_jsonable(r.value), indent=1, default=str)
        if len(body) > max_chars:
            body = body[:max_chars] + f"\n... ({len(body)} characters)"
        rows.append({"id": r.result_id, "tool": html.escape(r.tool),
                     "args": html.escape(", ".join(f"{k}={v!r}" for k, v in r.arguments.items())),
                     "error": r.error, "body": html.escape(body)})
    return rows


def _fig(f: Any) -> dict[str, str]:
    caption = html.escape(f.caption or f.title)
    caption = re.sub(r"\[(R\d+)\]", r'<a class="cite" href="#\1">[\1]</a>', caption)
    return {"id": html.escape(f.figure_id), "svg": to_svg(f), "caption": caption}


def render_html(doc: Report | Answer) -> str:
    """The report (or a single answer) as one self-contained HTML page."""
    if isinstance(doc, Report):
        figs = {f.figure_id: f for f in doc.figures}
        sections = [{"title": html.escape(s.title), "anchor": re.sub(r"\W+", "-", s.title.lower()),
                     "html": markdown_to_html(s.body, doc.claims.unverified_texts), "figures": [_fig(figs[i]) for i in s.figures if i in figs]}
                    for s in doc.sections]
        window = (f"{doc.window_start:%Y-%m-%d %H:%M} – {doc.window_end:%Y-%m-%d %H:%M} UTC"
                  if doc.window_start and doc.window_end else "")
        title, kind = doc.title, "report"
    else:
        sections = [{"title": "Question", "anchor": "question", "html": f"<p>{html.escape(doc.question)}</p>",
                     "figures": []},
                    {"title": "Answer", "anchor": "answer", "html": markdown_to_html(doc.text, doc.claims.unverified_texts),
                     "figures": [_fig(f) for f in doc.figures]}]
        window, title, kind = "", "Fault assistant answer", "answer"
    return _env.from_string(TEMPLATE).render(
        title=html.escape(title), css=CSS, window=window, created=f"{_created(doc):%Y-%m-%d %H:%M} UTC",
        mode_label=html.escape(doc.mode_label), claims_summary=html.escape(doc.claims.summary()),
        n_unverified=len(doc.claims.unverified), warnings=[html.escape(w) for w in doc.warnings],
        sections=sections, results=_results(doc.evidence), kind=kind,
        unverified=[html.escape(u) for u in doc.claims.unverified_texts],
    )


def _created(doc: Report | Answer) -> Any:
    from datetime import datetime

    return getattr(doc, "created", None) or datetime.now(UTC)

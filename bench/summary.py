"""Collect every ``bench/results/<name>.md`` table into ``bench/results/SUMMARY.md``."""

from __future__ import annotations

import json

from _common import RESULTS


def main() -> None:
    parts = ["# Benchmark summary\n", "Each table: ours vs a baseline run in the same script vs the published number "
             "or the goal. `when` is the UTC time the figure was measured (2-core machine, often shared).\n"]
    for md in sorted(RESULTS.glob("*.md")):
        if md.name == "SUMMARY.md":
            continue
        meta = {}
        js = md.with_suffix(".json")
        if js.exists():
            meta = json.loads(js.read_text()).get("_meta", {})
        body = md.read_text().strip()
        parts.append(body.replace(f"# {md.stem}", f"## {md.stem}", 1) + (f"\n\n_when: {meta.get('when', '?')}_\n" if meta else "\n"))
    out = RESULTS / "SUMMARY.md"
    out.write_text("\n".join(parts))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

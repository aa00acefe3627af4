"""Monitoring reports on disk: one HTML + JSON per model per run under ``reports/<date>/``, and an index.

The HTML is Evidently's report (drift, calibration or estimate, with the policy's tests); the JSON is
crmlab's summary (verdict, crossed thresholds, per-column drift with the method Evidently chose,
calibration by risk band, retrain outcome) followed by the Evidently snapshot's metrics and tests.
``index.html`` is rebuilt from every JSON under the reports directory, newest first, one line each.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

INDEX = "index.html"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    plot: Path | None = None

    def all(self) -> list[Path]:
        return [p for p in (self.html, self.json, self.plot) if p is not None and p.exists()]


def report_paths(reports_dir: Path, model_name: str, when: datetime) -> ReportFiles:
    """Where this run's files for ``model_name`` go (time in the name: several runs a day never clash)."""
    folder = reports_dir / when.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{_safe(model_name)}-{when.strftime('%H%M%S')}"
    n = 1
    while (folder / f"{stem}.json").exists():
        n += 1
        stem = f"{_safe(model_name)}-{when.strftime('%H%M%S')}-{n}"
    return ReportFiles(folder / f"{stem}.html", folder / f"{stem}.json", folder / f"{stem}-reliability.png")


def write_report(files: ReportFiles, summary: dict[str, Any], snapshot: Any | None) -> None:
    """Evidently HTML (when a snapshot exists) and the summary JSON (with the snapshot's results)."""
    if snapshot is not None:
        snapshot.save_html(str(files.html))  # a str path: Evidently ignores file objects
        summary = {**summary, "evidently": snapshot.dict()}
    else:
        files.html.write_text(_error_page(summary))
    files.json.write_text(json.dumps(summary, indent=1, default=_jsonable))


def write_index(reports_dir: Path) -> Path:
    """Rebuild ``index.html``: every report under ``reports_dir``, newest first, with its verdict."""
    rows = []
    for path in sorted(reports_dir.glob("*/*.json"), reverse=True):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if "verdict" not in data:
            continue
        rows.append((data.get("started_at", ""), path, data))
    rows.sort(key=lambda r: r[0], reverse=True)
    lines = []
    for _, path, data in rows:
        rel = path.relative_to(reports_dir)
        status = data.get("status", "ok")
        css = "err" if status == "error" else ("alert" if data.get("crossings") else "ok")
        retrain = data.get("retrain") or {}
        retrain_text = f" | retrain: {retrain.get('status')}" if retrain.get("status") else ""
        lines.append(
            f"<tr class='{css}'><td>{html.escape(data.get('started_at', '')[:19])}</td>"
            f"<td>{html.escape(str(data.get('model', '')))} v{html.escape(str(data.get('version', '?')))}</td>"
            f"<td>{html.escape(str(data.get('data_window', '')))}</td>"
            f"<td><a href='{html.escape(str(rel.with_suffix('.html')))}'>report</a> · "
            f"<a href='{html.escape(str(rel))}'>json</a></td>"
            f"<td>{html.escape(data['verdict'] + retrain_text)}</td></tr>"
        )
    page = _INDEX_TEMPLATE.format(count=len(lines), rows="\n".join(lines))
    out = reports_dir / INDEX
    out.write_text(page)
    return out


def _error_page(summary: dict[str, Any]) -> str:
    return (f"<html><body><h1>{html.escape(str(summary.get('model')))}: monitoring failed</h1>"
            f"<pre>{html.escape(str(summary.get('verdict')))}</pre></body></html>")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path | datetime):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


_INDEX_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><title>crmlab monitoring</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }}
tr.alert td:last-child {{ color: #b00; }}
tr.err td:last-child {{ color: #700; font-weight: bold; }}
tr.ok td:last-child {{ color: #060; }}
</style></head><body>
<h1>crmlab monitoring reports ({count})</h1>
<table><tr><th>run (UTC)</th><th>model</th><th>data window</th><th>files</th><th>verdict</th></tr>
{rows}
</table></body></html>
"""

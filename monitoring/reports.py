"""Monitoring reports on disk: one HTML + JSON per model per run under ``reports/<date>/``, and an index.

The HTML is Evidently's report (drift, calibration or estimate, with the policy's tests); the JSON is
crmlab's summary (verdict, crossed thresholds, per-column drift with the method Evidently chose,
calibration by risk band, retrain outcome) followed by the Evidently snapshot's metrics and tests.
``index.html`` is rebuilt from every JSON under the reports directory, newest first, one line each.
"""

from __future__ import annotations

import html
import json
import os
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
    """Where this run's files for ``model_name`` go; unique even for runs started in the same second.

    The stem is reserved by creating the JSON file exclusively (``O_EXCL``), so concurrent monitors on
    one reports directory can never pick the same name and overwrite each other's report.
    """
    folder = reports_dir / when.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{_safe(model_name)}-{when.strftime('%H%M%S')}"
    for n in range(1, 10_000):
        stem = base if n == 1 else f"{base}-{n}"
        try:
            with (folder / f"{stem}.json").open("x"):
                pass
        except FileExistsError:
            continue
        return ReportFiles(folder / f"{stem}.html", folder / f"{stem}.json", folder / f"{stem}-reliability.png")
    raise RuntimeError(f"no free report name for {model_name} in {folder}")


def write_report(files: ReportFiles, summary: dict[str, Any], snapshot: Any | None) -> None:
    """Evidently HTML (when a snapshot exists) and the summary JSON (with the snapshot's results)."""
    if snapshot is not None:
        snapshot.save_html(str(files.html))  # a str path: Evidently ignores file objects
        page = files.html.read_text()
        at = page.find(">", page.find("<body")) + 1 if "<body" in page else 0
        files.html.write_text(page[:at] + verdict_header(summary) + page[at:])
        summary = {**summary, "evidently": snapshot.dict()}
    else:
        files.html.write_text(_error_page(summary))
    files.json.write_text(json.dumps(summary, indent=1, default=_jsonable))


def verdict_header(summary: dict[str, Any]) -> str:
    """The first screen of a model report: status, every check with value and threshold, the reference,
    the important features' drift (most important first), the retrain outcome. Evidently's report follows."""
    e = html.escape
    status = str(summary.get("status", "ok"))
    colour = {"ok": "#0a7d32", "alert": "#b3261e", "error": "#7a0000"}.get(status, "#444")
    checks = "".join(
        f"<tr class='{'bad' if c.get('crossed') else 'good'}'><td>{e(str(c['check']))}</td>"
        f"<td>{'CROSSED' if c.get('crossed') else 'ok'}</td><td>{_num(c['value'])}</td><td>{_num(c['threshold'])}</td>"
        f"<td>{e(str(c.get('reason', '')))}</td></tr>" for c in summary.get("checks", []))
    drift = summary.get("drift") or {}
    cols = [c for c in drift.get("columns", []) if c.get("role") != "prediction"]
    cols = sorted(cols, key=lambda c: (-(c.get("weight") or 0.0), -c.get("score", 0.0)))[:12]
    features = "".join(
        f"<tr class='{'bad' if c.get('drifted') else ''}'><td>{e(str(c['column']))}"
        f"{' (watched)' if c['column'] in drift.get('watched', []) else ''}</td><td>{_num(c.get('weight'))}</td>"
        f"<td>{_num(c.get('score'))}</td><td>{_num(c.get('threshold'))}</td><td>{_num(c.get('noise'))}</td>"
        f"<td>{_num(c.get('normal'))}</td><td>{'DRIFTED' if c.get('drifted') else ''}</td></tr>" for c in cols)
    watched = "".join(
        f"<tr class='{'bad' if g.get('drifted') else ''}'><td>{e(str(g['column']))}</td>"
        f"<td>{e(', '.join(g.get('members') or []))}</td><td>{_num(g.get('score'))}</td>"
        f"<td>{_num(g.get('threshold'))}</td><td>{e(', '.join(g.get('members_drifted') or []))}</td>"
        f"<td>{'DRIFTED' if g.get('drifted') else ''}</td></tr>" for g in drift.get("watched_groups", []))
    ref = summary.get("reference") or {}
    retrain = summary.get("retrain") or {}
    labels = "yes: performance measured" if summary.get("labels") else "no: performance estimated"
    notes = "".join(f"<li>{e(str(n))}</li>" for n in summary.get("notes", []) or [])
    return f"""
<div id="crmlab-verdict" style="font-family:sans-serif;margin:16px 24px;padding:12px 16px;border:3px solid {colour};
 border-radius:6px;background:#fff">
<h1 style="margin:0 0 6px 0;color:{colour}">{e(str(summary.get('model')))} v{e(str(summary.get('version')))}:
 {e(status.upper())}</h1>
<p style="margin:0 0 8px 0;font-size:15px">{e(str(summary.get('verdict', '')))}</p>
<p style="margin:0 0 8px 0;font-size:13px">Batch {e(str(summary.get('data_window', '')))}, {summary.get('rows', '?')}
 rows; labels: {labels}. Compared with: <b>{e(str(ref.get('name', '-')))}</b> ({ref.get('rows', '?')} rows)
 - {e(str(ref.get('why', '')))}.</p>
{_table("Policy checks (the Tests tab below holds exactly these)",
        ["check", "status", "value", "threshold", "in words"], checks)}
{_table("Inputs, most important first (drifted when score >= its calibrated threshold)",
        ["feature", "importance weight", "drift score", "threshold", "noise", "year-over-year", ""], features)}
{_table("Watched inputs by group (drifted when the mean score reaches the group's threshold, or a member its own)",
        ["group", "inputs", "mean score", "threshold", "over their own threshold", ""], watched) if watched else ""}
{f"<p style='font-size:13px'><b>Retrain</b>: {e(str(retrain.get('status')))} - {e(str(retrain.get('message')))}</p>"
 if retrain else ""}
{f"<ul style='font-size:12px;color:#555'>{notes}</ul>" if notes else ""}
</div>
"""


def _table(title: str, headers: list[str], rows: str) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in headers)
    return (f"<h3 style='margin:10px 0 4px 0;font-size:14px'>{html.escape(title)}</h3>"
            "<style>#crmlab-verdict tr.bad td{color:#b3261e;font-weight:bold} #crmlab-verdict td{padding:2px 8px;"
            "font-size:13px;border-bottom:1px solid #eee}</style>"
            f"<table style='border-collapse:collapse'><tr>{head}</tr>{rows}</table>")


def _num(value: Any) -> str:
    if value is None:
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    return f"{number:.3f}" if number == number else "n/a"


def write_index(reports_dir: Path) -> Path:
    """Rebuild ``index.html`` from every report JSON under ``reports_dir``, newest first.

    Rebuilt under a file lock and replaced atomically, so concurrent monitors each leave an index that
    lists every report finished before it (one row per model per run) and never a half-written page.
    """
    from filelock import FileLock

    out = reports_dir / INDEX
    with FileLock(str(reports_dir / ".index.lock"), timeout=120):
        page = _INDEX_TEMPLATE.format(rows="\n".join(_index_rows(reports_dir)),
                                      count=len(list(_reports(reports_dir))))
        tmp = out.with_name(f".{INDEX}.{os.getpid()}.tmp")
        tmp.write_text(page)
        os.replace(tmp, out)
    return out


def _reports(reports_dir: Path):
    for path in reports_dir.glob("*/*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):  # (a report being written right now)
            continue
        if isinstance(data, dict) and "verdict" in data:
            yield path, data


def _index_rows(reports_dir: Path) -> list[str]:
    rows = sorted(_reports(reports_dir), key=lambda r: (r[1].get("started_at", ""), str(r[0])), reverse=True)
    lines = []
    for path, data in rows:
        rel = path.relative_to(reports_dir)
        status = data.get("status", "ok")
        css = "err" if status == "error" else ("alert" if data.get("crossings") else "ok")
        retrain = data.get("retrain") or {}
        if retrain.get("status") == "failed":
            css = "err"
        retrain_text = f"{retrain.get('status')}: {retrain.get('message', '')}" if retrain.get("status") else "-"
        labels = "yes (measured)" if data.get("labels") else "no (estimated)"
        lines.append(
            f"<tr class='{css}'><td>{html.escape(data.get('started_at', '')[:19])}</td>"
            f"<td>{html.escape(str(data.get('model', '')))} v{html.escape(str(data.get('version', '?')))}</td>"
            f"<td>{html.escape(str(data.get('data_window', '')))}</td>"
            f"<td>{html.escape(str((data.get('reference') or {}).get('name', '-')))}</td>"
            f"<td>{labels}</td>"
            f"<td><a href='{html.escape(str(rel.with_suffix('.html')))}'>report</a> · "
            f"<a href='{html.escape(str(rel))}'>json</a></td>"
            f"<td class='verdict'>{html.escape(data['verdict'])}</td>"
            f"<td class='retrain'>{html.escape(retrain_text)}</td></tr>"
        )
    return lines


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
tr.alert td.verdict {{ color: #b00; }}
tr.err td.verdict, tr.err td.retrain {{ color: #700; font-weight: bold; }}
tr.ok td.verdict {{ color: #060; }}
</style></head><body>
<h1>crmlab monitoring reports ({count})</h1>
<table><tr><th>run (UTC)</th><th>model</th><th>data window</th><th>compared with</th><th>labels used</th><th>files</th>
<th>verdict</th><th>retrain</th></tr>
{rows}
</table></body></html>
"""

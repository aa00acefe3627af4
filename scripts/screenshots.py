"""Regenerate the README walkthrough screenshots (docs/img/) from a finished `main` run.

Run after `bash scripts/quickstart.sh`, from the repository root with the .venv active:

    python scripts/screenshots.py [--tracking-uri sqlite:///mlflow.db] [--reports reports] [--out docs/img]

It starts the stock MLflow UI on a free local port, and headless Chromium (Debian's `chromium`) takes
four pictures: the runs tree of `main`, the churn champion's model version, the reports index and the
top of one model report. Nothing leaves the machine: Chromium runs with background networking off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the MLflow UI did not answer at {url} within {timeout_s:.0f} s")


# Selectors of the MLflow 3.17 UI (read off its page): the run-name cell's expander, and the close
# button of the Assistant side panel. Best effort: a newer UI without them still gets its pictures.
RUN_EXPANDER = 'button[data-component-id*="runnamecellrenderer"]'
CLOSE_ASSISTANT = 'button[aria-label="Close"]'


def _click_if_present(page, selector: str) -> None:
    target = page.locator(selector).first
    if target.count():
        target.click()
        page.wait_for_timeout(1000)


def shoot(page, url: str, out: Path, ready: str | None = None, height: int = 900,
          clicks: tuple[str, ...] = ()) -> None:
    """One screenshot once the page (a single-page app for the MLflow UI) shows ``ready``."""
    page.set_viewport_size({"width": 1400, "height": height})
    page.goto(url, wait_until="load")
    if ready:
        page.get_by_text(ready, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # charts and tables settle after the first paint
    for selector in clicks:
        _click_if_present(page, selector)
    page.screenshot(path=str(out))
    print(f"  {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--experiment", default="crmlab")
    parser.add_argument("--model", default="churn")
    args = parser.parse_args()

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: apt-get install -y chromium", file=sys.stderr)
        return 2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(args.tracking_uri)
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        print(f"no experiment {args.experiment!r} in {args.tracking_uri}: run scripts/quickstart.sh first",
              file=sys.stderr)
        return 2
    champion = client.get_model_version_by_alias(args.model, "champion")
    index = args.reports / "index.html"
    model_reports = sorted(p for p in args.reports.rglob("*.html") if p != index and args.model in p.name)
    args.out.mkdir(parents=True, exist_ok=True)

    port = _free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", args.tracking_uri,
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    from playwright.sync_api import sync_playwright

    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/health")
        print("screenshots:")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS[1:])
            page = browser.new_page()
            shoot(page, f"{base}/#/experiments/{experiment.experiment_id}/runs", args.out / "runs.png",
                  ready="main", clicks=(CLOSE_ASSISTANT, RUN_EXPANDER))
            shoot(page, f"{base}/#/models/{args.model}/versions/{champion.version}",
                  args.out / "model_version.png", ready="champion", clicks=(CLOSE_ASSISTANT,))
            if index.exists():
                shoot(page, index.resolve().as_uri(), args.out / "reports_index.png")
            if model_reports:
                shoot(page, model_reports[-1].resolve().as_uri(), args.out / "model_report.png")
            browser.close()
    finally:
        ui.terminate()
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

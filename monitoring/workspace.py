"""The local Evidently workspace: one project per model, every monitoring snapshot added as a run.

Each project gets a dashboard (drift share of important features, ECE, estimated AUC and AUC drop over
time) the first time it is created; ``crmlab reports`` opens it with ``evidently ui``. A workspace is a
plain directory, so it can live beside the reports and be backed up with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROJECT_PREFIX = "crmlab: "

# (panel title, crmlab custom metric class, legend)
PANELS: tuple[tuple[str, str, str], ...] = (
    ("Importance-weighted share of drifted feature groups", "WeightedDriftShare", "drifted weight"),
    ("Expected calibration error (labelled windows)", "ExpectedCalibrationError", "ECE"),
    ("Estimated ROC AUC (no labels needed)", "EstimatedRocAuc", "estimated AUC"),
    ("ROC AUC drop vs reference", "RocAucDrop", "AUC drop"),
    ("Largest segment / band share change", "CategoryShareShift", "share change"),
)


def add_snapshot(workspace_dir: Path, model_name: str, snapshot: Any) -> str:
    """Add ``snapshot`` to the model's project (created with its dashboard if new); returns the run id."""
    from evidently.ui.workspace import Workspace

    workspace = Workspace.create(str(workspace_dir))
    project = model_project(workspace, model_name)
    ref = workspace.add_run(project.id, snapshot)
    return str(ref.id)


def model_project(workspace: Any, model_name: str) -> Any:
    """The model's project, created with its dashboard on first use."""
    name = f"{PROJECT_PREFIX}{model_name}"
    found = workspace.search_project(name)
    if found:
        return found[0]
    project = workspace.create_project(name, description=f"crmlab monitoring of registered model {model_name}")
    add_dashboard(project)
    return project


def add_dashboard(project: Any) -> None:
    """Line charts of crmlab's monitoring metrics over runs."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    for title, metric, legend in PANELS:
        project.dashboard.add_panel(
            line_plot_panel(title=title, values=[PanelMetric(metric=metric, legend=legend)], size="half"),
        )  # no tab name: Evidently 0.7.23 lists a panel twice when it is added to a named, existing tab

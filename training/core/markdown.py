"""Markdown tables without extra dependencies (pandas' ``to_markdown`` needs ``tabulate``)."""

from __future__ import annotations

import pandas as pd


def markdown_table(frame: pd.DataFrame, *, digits: int = 4, index: bool = True) -> str:
    """A GitHub-style table; floats rounded to ``digits`` decimals."""
    data = frame.reset_index() if index else frame
    header = [str(c) for c in data.columns]
    rows = [[_cell(v, digits) for v in row] for row in data.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")

"""DataFrame → rich Table, and the ``--json`` form of the same data."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from rich.table import Table

from licli.io import to_json


def format_value(value: object, percent: bool = False) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if percent:
            return f"{100 * value:.2f}"
        return f"{value:.4g}"
    return str(value)


def frame_table(frame: pd.DataFrame, title: str | None = None, percent_columns: tuple[str, ...] = (),
                captions: Mapping[str, str] | None = None) -> Table:
    """A rich Table of ``frame``; columns named in ``percent_columns`` are shown as percentages."""
    table = Table(title=title, caption=(captions or {}).get("caption"))
    for column in frame.columns:
        header = f"{column} %" if column in percent_columns else str(column)
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(header, justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(format_value(v, c in percent_columns) for c, v in zip(frame.columns, row)))
    return table


def frame_json(frame: pd.DataFrame, **extra: object) -> str:
    return to_json({**extra, "rows": frame.to_dict(orient="records")})

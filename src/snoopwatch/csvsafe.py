"""CSV cells that a spreadsheet would run as a formula are made inert before anything is written.

Everything in an audit log is attacker-controlled: a "surname" of `=HYPERLINK("http://evil", "x")` must
reach the analyst's spreadsheet as text. Cells starting with `=`, `+`, `-`, `@`, tab or carriage return
get a leading `'` (the OWASP advice); real numbers stay numbers, so `-3.5` in a float column is untouched.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_csv_value(value: object) -> object:
    """One cell: a string that starts like a formula gets a leading apostrophe; anything else is returned."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore_csv_value(value: object) -> object:
    """The inverse of neutralise_csv_value, for reading back a CSV snoopwatch wrote (ids must join again)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def neutralise_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` safe to write as CSV: text columns neutralised, numeric and time columns unchanged.

    Column names are neutralised too (they can come from a log's header).
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series) \
                or pd.api.types.is_bool_dtype(series):
            continue
        text = series.astype("string")
        risky = text.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
        if not risky.any():
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = [neutralise_csv_value(c) for c in series.cat.categories]
            out[column] = series.cat.rename_categories(categories) if len(set(categories)) == len(categories) \
                else text.map(neutralise_csv_value, na_action="ignore")
        elif pd.api.types.is_object_dtype(series):
            out[column] = series.map(neutralise_csv_value)
        else:
            out[column] = text.where(~risky, "'" + text).astype(series.dtype)
    out.columns = [neutralise_csv_value(c) if isinstance(c, str) else c for c in out.columns]
    return out

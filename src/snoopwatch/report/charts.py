"""The report's charts, drawn with matplotlib's object API on the Agg canvas and returned as PNG data URIs.

No pyplot and no global backend switch: each chart is its own Figure, so the report can be built inside
any program (and in threads) without touching the caller's matplotlib state. Text taken from the log is
passed through `_literal` so a `$` in a name is not parsed as mathtext.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
ACCENT = "#c0392b"
PEER = "#3e6fb0"
DUTY = "#d5ecd8"
ACTION_STYLE = {  # marker, colour
    "search": ("o", "#3e6fb0"),
    "view": ("s", "#2f8f83"),
    "export": ("D", "#c0392b"),
    "update": ("^", "#b7791f"),
}
OTHER_ACTION = ("P", "#6b7280")
DPI = 110


def _literal(text: str) -> str:
    """Text from the log shown as is (a `$` would otherwise start mathtext)."""
    return str(text).replace("$", r"\$")


def _figure(width: float, height: float, *, left: float = 0.62, right: float = 0.15, top: float = 0.34,
            bottom: float = 0.42) -> Figure:
    """A figure of fixed size with fixed margins (inches), laid out once.

    Fixed sizes (not a tight bounding box) make every chart equally wide, so they scale alike in the
    page; fixed margins instead of constrained layout halve the drawing time of a report.
    """
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height)
    return fig


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
    ax.tick_params(colors=MUTED, labelsize=8, length=3)
    ax.yaxis.label.set_color(MUTED)
    ax.xaxis.label.set_color(MUTED)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _dates(ax) -> None:
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def to_data_uri(fig: Figure) -> str:
    """The figure as a PNG `data:` URI (the report may not load anything from outside itself)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _naive(values: pd.Series | pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Times in the display zone without a zone attached (matplotlib plots wall-clock time)."""
    index = pd.DatetimeIndex(values)
    index = index.tz_localize("UTC") if index.tz is None else index
    return index.tz_convert(tz).tz_localize(None).to_numpy("datetime64[ns]")


def merge_intervals(intervals: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Overlapping or touching intervals merged, so overlapping alert windows shade once, not darker."""
    merged: list[list[pd.Timestamp]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _legend_above(ax, loc: str, ncols: int, height: float) -> None:
    """One legend entry per label (series drawn in pieces repeat theirs), placed above the plot."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=7.5, frameon=False, loc=loc, ncols=ncols,
              bbox_to_anchor=(0, height))


def risk_chart(daily: pd.DataFrame, reference: pd.Series, windows: list[tuple[pd.Timestamp, pd.Timestamp]],
               tz: str = "UTC") -> str:
    """The person's highest event score per day against the force's daily 99th percentile, alert windows shaded.

    daily: columns day (UTC midnight), score. reference: force-wide 99th percentile indexed by day.
    """
    fig = _figure(8.2, 2.1)
    ax = fig.add_subplot()
    _style(ax)
    for start, end in merge_intervals(windows):
        ax.axvspan(_naive(pd.DatetimeIndex([start]), tz)[0], _naive(pd.DatetimeIndex([end]), tz)[0],
                   color=ACCENT, alpha=0.10, linewidth=0, label="alert window")
    if len(reference):
        ax.plot(_naive(pd.DatetimeIndex(reference.index) + pd.Timedelta(hours=12), tz), reference.to_numpy(), color=MUTED, linewidth=1.0,
                linestyle="--", label="whole force, 99th percentile")
    if len(daily):
        midday = pd.DatetimeIndex(daily["day"]) + pd.Timedelta(hours=12)
        ax.plot(_naive(midday, tz), daily["score"].to_numpy(), color=ACCENT, linewidth=1.4,
                marker="o", markersize=2.5, label="this person, highest event score of the day")
    ax.set_ylabel("event score", fontsize=8)
    _dates(ax)
    _legend_above(ax, loc="upper left", ncols=3, height=1.22)
    return to_data_uri(fig)


def timeline_chart(events: pd.DataFrame, lanes: list[tuple[str, str]], duty: pd.DataFrame | None,
                   window: tuple[pd.Timestamp, pd.Timestamp], tz: str = "UTC") -> str:
    """Each event behind the alert on its subject's lane, marker by action; rostered duty shaded green.

    events: columns timestamp, action, lane (a key of `lanes`). lanes: (key, label) top to bottom.
    duty: columns start, end (None when there are no rosters).
    """
    height = 0.85 + 0.28 * max(len(lanes), 1)
    longest = max((len(label) for _, label in lanes), default=10)
    fig = _figure(8.2, min(height, 6.5), left=min(0.25 + 0.064 * longest, 3.4), top=0.3)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    start, end = window
    pad = max((end - start) * 0.03, pd.Timedelta(minutes=30))
    lo, hi = start - pad, end + pad
    if duty is not None:
        for _, row in duty.iterrows():
            ax.axvspan(_naive(pd.DatetimeIndex([max(row["start"], lo)]), tz)[0],
                       _naive(pd.DatetimeIndex([min(row["end"], hi)]), tz)[0],
                       color=DUTY, linewidth=0, label="on duty (roster)")
    position = {key: i for i, (key, _) in enumerate(reversed(lanes))}
    y = events["lane"].map(position).to_numpy(dtype="float64")
    actions = events["action"].astype("string").fillna("other")
    for action in sorted(set(actions)):
        marker, colour = ACTION_STYLE.get(action, OTHER_ACTION)
        mask = (actions == action).to_numpy()
        ax.scatter(_naive(events.loc[mask, "timestamp"], tz), y[mask], marker=marker, s=26, color=colour,
                   edgecolor="white", linewidth=0.5, label=_literal(action), zorder=3)
    ax.set_yticks(range(len(lanes)), [_literal(label) for _, label in reversed(lanes)], fontsize=8, color=INK)
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_xlim(_naive(pd.DatetimeIndex([lo]), tz)[0], _naive(pd.DatetimeIndex([hi]), tz)[0])
    ax.grid(axis="y", visible=False)
    _dates(ax)
    _legend_above(ax, loc="lower left", ncols=6, height=1.0)
    return to_data_uri(fig)


def hour_chart(person: np.ndarray, peers: np.ndarray | None, alerted: np.ndarray, peer_label: str,
               tz_label: str = "UTC") -> str:
    """Share of the person's events by hour of day (bars) against role peers (line); alert hours marked.

    person, peers: 24 counts each (peers None when there is no role to compare with). alerted: 24 counts
    of the events behind the alert.
    """
    fig = _figure(8.2, 2.1, bottom=0.5)
    ax = fig.add_subplot()
    _style(ax)
    hours = np.arange(24)
    person_share = person / person.sum() if person.sum() else person.astype(float)
    ax.bar(hours, person_share * 100, width=0.8, color="#c9d6e8", label="this person, all activity")
    if peers is not None and peers.sum():
        ax.plot(hours, peers / peers.sum() * 100, color=PEER, linewidth=1.5, marker="o", markersize=2.5,
                label=_literal(peer_label))
    if alerted.sum():
        top = max(float(person_share.max() * 100), 1.0)
        marks = hours[alerted > 0]
        ax.scatter(marks, np.full(marks.size, -0.06 * top), marker="^", s=30, color=ACCENT, zorder=3,
                   clip_on=False, label="hours of the events behind the alert")
    ax.set_xticks(hours[::2], [f"{h:02d}" for h in hours[::2]])
    ax.set_xlim(-0.6, 23.6)
    ax.set_ylabel("% of events", fontsize=8)
    ax.set_xlabel(f"hour of day ({_literal(tz_label)})", fontsize=8)
    ax.legend(fontsize=7.5, frameon=False, loc="lower left", ncols=3, bbox_to_anchor=(0, 1.0))
    return to_data_uri(fig)

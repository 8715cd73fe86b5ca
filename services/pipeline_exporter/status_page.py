"""The pipeline exporter's ``/status`` page: its last samples as four server-rendered SVG line
charts (no script, no fetch: it works offline), refreshed by the browser every sample interval.

Pure: :func:`render` turns a history of :class:`Sample` into HTML; the exporter's sampler
(:mod:`.metrics`) keeps the history, its HTTP server (:mod:`.__main__`) serves the page.

- Throughput: applicants committed per second between two samples (the topology's committed
  offsets, summed over partitions; a group's offset that moves back counts as 0).
- Lag: records of the applicant topic after the committed offsets, summed over partitions.
- Dead letters: distinct dead letters so far, by stage (a line per stage).
- Newest committed applicant's age: the read's time minus the Kafka timestamp of the record just
  before the committed offset, the most over the partitions that lag; 0 when none lags (caught
  up). Not an end-to-end latency: it says how far behind the producer's clock the topology's
  progress is.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

# Chart geometry (SVG user units = CSS pixels).
WIDTH = 560
HEIGHT = 240
LEFT = 64
RIGHT = 16
TOP = 16
BOTTOM = 44
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM

THROUGHPUT_COLOUR = "#1f77b4"
LAG_COLOUR = "#d62728"
AGE_COLOUR = "#9467bd"
STAGE_COLOURS = {
    "parse": "#ff7f0e",
    "clean": "#2ca02c",
    "score": "#8c564b",
    "unreadable": "#7f7f7f",
}
OTHER_STAGE_COLOURS = ("#e377c2", "#17becf", "#bcbd22")

THROUGHPUT_TITLE = "Throughput"
LAG_TITLE = "Consumer lag"
DEAD_LETTERS_TITLE = "Dead letters"
AGE_TITLE = "Newest committed applicant's age"


@dataclass(frozen=True, slots=True)
class Sample:
    """One successful read of Kafka."""

    at: float  # Unix time of the read
    committed: int  # committed offsets, summed over the partitions that have one
    lag: int  # lag, summed over partitions
    dead_letters: Mapping[str, int] | None  # by stage; None until the topic was read to its end
    newest_committed_age_s: float | None  # 0: caught up; None: no lagging partition's record read


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: (seconds relative to the last sample, value) points."""

    name: str
    colour: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    unit: str  # the y axis's unit, and the latest value's
    series: tuple[Series, ...]
    note: str = ""  # what the measure is, under the title


def throughput(samples: Sequence[Sample]) -> tuple[tuple[float, float], ...]:
    """Applicants committed per second between each sample and the one before, placed at the
    later one (a committed total that moves back, a group reset, counts as 0)."""
    rates = []
    for before, after in itertools.pairwise(samples):
        elapsed = after.at - before.at
        if elapsed > 0:
            rates.append((after.at, max(0, after.committed - before.committed) / elapsed))
    return tuple(rates)


def charts(samples: Sequence[Sample]) -> tuple[Chart, ...]:
    """The four charts of ``samples`` (oldest first); x is seconds before the last sample."""
    last = samples[-1].at

    def relative(points: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
        return tuple((at - last, value) for at, value in points)

    stages: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        for stage, count in sorted((sample.dead_letters or {}).items()):
            stages.setdefault(stage, []).append((sample.at, float(count)))
    others = iter(OTHER_STAGE_COLOURS * (1 + len(stages)))
    letters = tuple(
        Series(stage, STAGE_COLOURS.get(stage) or next(others), relative(points))
        for stage, points in sorted(stages.items())
    )
    ages = [(s.at, s.newest_committed_age_s) for s in samples]
    known = [(at, age) for at, age in ages if age is not None]
    return (
        Chart(
            THROUGHPUT_TITLE,
            "applicants/s",
            (Series("committed", THROUGHPUT_COLOUR, relative(throughput(samples))),),
            "applicants committed (stored or dead-lettered) per second between two samples",
        ),
        Chart(
            LAG_TITLE,
            "records",
            (Series("lag", LAG_COLOUR, relative([(s.at, float(s.lag)) for s in samples])),),
            "records of the applicant topic not yet committed, all partitions",
        ),
        Chart(
            DEAD_LETTERS_TITLE,
            "dead letters",
            letters,
            "distinct dead letters since the topic's start, by stage",
        ),
        Chart(
            AGE_TITLE,
            "s",
            (Series("age", AGE_COLOUR, relative(known)),),
            "time of the read minus the Kafka timestamp of the newest committed applicant, "
            "the most over lagging partitions; 0: caught up (no lag)",
        ),
    )


def nice_ceiling(value: float) -> float:
    """The least of 1, 2 or 5 times a power of ten that is at least ``value`` (1 for 0 or less)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


def number(value: float) -> str:
    """A value for a label: whole numbers without decimals, others with up to 3 significant."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def svg_chart(chart: Chart, window_s: float) -> str:
    """``chart`` as an inline SVG: y from 0 to a round maximum, x from -``window_s`` to 0 s."""
    values = [v for series in chart.series for _, v in series.points]
    y_max = nice_ceiling(max(values, default=0.0))
    window = max(window_s, 1.0)

    def x_of(t: float) -> float:
        return LEFT + PLOT_WIDTH * (1 + max(-window, min(0.0, t)) / window)

    def y_of(v: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - max(0.0, v) / y_max)

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(chart.title)}" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" '
        'fill="#fafafa" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):  # y ticks and grid
        y = TOP + PLOT_HEIGHT * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_WIDTH}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(number(y_max * fraction))}</text>"
        )
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):  # x ticks
        x = LEFT + PLOT_WIDTH * fraction
        seconds = -window * (1 - fraction)
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + PLOT_HEIGHT + 14}" text-anchor="middle">'
            f"{escape(number(round(seconds)))}</text>"
        )
    parts.append(
        f'<text class="x-label" x="{LEFT + PLOT_WIDTH / 2:.1f}" y="{HEIGHT - 6}" '
        'text-anchor="middle">time (s, relative to the last sample)</text>'
        f'<text class="y-label" transform="translate(14 {TOP + PLOT_HEIGHT / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.unit)}</text>'
    )
    for series in chart.series:
        if not series.points:
            continue
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x_of(t):.1f},{y_of(v):.1f}"
            for i, (t, v) in enumerate(series.points)
        )
        parts.append(
            f'<path class="series" data-series="{escape(series.name)}" d="{path}" fill="none" '
            f'stroke="{series.colour}" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="3" fill="{series.colour}"/>'
            for t, v in series.points
        )
    if not values:
        parts.append(
            f'<text x="{LEFT + PLOT_WIDTH / 2:.1f}" y="{TOP + PLOT_HEIGHT / 2:.1f}" '
            'text-anchor="middle" fill="#666">not enough samples yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def latest(chart: Chart) -> str:
    """The latest value of each series, as text."""
    shown = [
        f'<span style="color:{series.colour}">■</span> {escape(series.name)}: '
        f"<b>{escape(number(series.points[-1][1]))}</b> {escape(chart.unit)}"
        for series in chart.series
        if series.points
    ]
    if chart.title == AGE_TITLE and any(s.points and s.points[-1][1] == 0 for s in chart.series):
        shown.append("(caught up)")
    return "latest: " + (", ".join(shown) if shown else "none yet")


STYLE = (
    "body{font-family:sans-serif;margin:16px;color:#222;background:#fff}"
    "h1{font-size:20px;margin:0 0 4px}"
    ".charts{display:grid;grid-template-columns:repeat(2,max-content);gap:16px}"
    f"section{{border:1px solid #ccc;padding:8px;width:{WIDTH}px}}h2{{font-size:15px;margin:0}}"
    ".note,.meta{color:#555;font-size:12px;margin:2px 0 6px}.latest{font-size:13px;margin:4px 0}"
)


def render(
    samples: Sequence[Sample],
    *,
    interval_s: float,
    window_s: float,
    topic: str,
    group: str,
    kafka_up: bool,
    now: float | None = None,
) -> str:
    """The page: a header of what is read and how recently, then the four charts (or a
    "no samples yet" notice). ``window_s`` is the span the history can hold."""
    now = time.time() if now is None else now
    refresh = max(1, math.ceil(interval_s))
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{refresh}">'
        "<title>lendstream pipeline status</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>lendstream pipeline status</h1>"
        f'<p class="meta">topic <code>{escape(topic)}</code>, group <code>{escape(group)}</code>; '
        f"Kafka read every {number(interval_s)} s, "
        f"{'last read OK' if kafka_up else 'last read FAILED'}; "
        f"{len(samples)} sample{'' if len(samples) == 1 else 's'} kept "
        f"(up to {number(window_s)} s); refreshes every {refresh} s.</p>"
    )
    if not samples:
        return (
            head + '<p class="empty"><b>No samples yet</b>: the exporter has not read Kafka '
            "successfully since it started.</p></body></html>"
        )
    age = now - samples[-1].at
    sections = [
        f'<section><h2>{escape(chart.title)}</h2><p class="note">{escape(chart.note)}</p>'
        f"{svg_chart(chart, window_s)}"
        f'<p class="latest">{latest(chart)}</p></section>'
        for chart in charts(samples)
    ]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(samples[-1].at))
    return (
        head + f'<p class="meta">last sample {stamp} ({number(round(age))} s ago).</p>'
        f'<div class="charts">{"".join(sections)}</div></body></html>'
    )

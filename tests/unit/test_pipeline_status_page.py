"""The pipeline exporter's /status page, its pure parts: the rates and the age it shows, the
charts it draws from a history of samples, the empty state, and escaping what Kafka wrote."""

from __future__ import annotations

import re
import time

import pytest

from lendstream.services.pipeline_exporter import status_page
from lendstream.services.pipeline_exporter.metrics import newest_committed_age
from lendstream.services.pipeline_exporter.reader import Progress
from lendstream.services.pipeline_exporter.status_page import Sample

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def sample(offset_s: float, committed: int, lag: int = 0, **extra: object) -> Sample:
    fields: dict[str, object] = {"dead_letters": None, "newest_committed_age_s": 0.0, **extra}
    return Sample(T0 + offset_s, committed, lag, **fields)  # type: ignore[arg-type]


def page(samples: list[Sample], **extra: object) -> str:
    arguments: dict[str, object] = {
        "interval_s": 10.0,
        "window_s": 590.0,
        "topic": "lendstream.applicants",
        "group": "lendstream-topology",
        "kafka_up": True,
        "now": T0 + 100,
        **extra,
    }
    return status_page.render(samples, **arguments)  # type: ignore[arg-type]


def test_throughput_is_committed_per_second_between_samples_and_never_negative() -> None:
    samples = [sample(0, 100), sample(10, 150), sample(20, 150), sample(30, 40), sample(30, 90)]
    # 50 in 10 s; none; a group reset (150 → 40) counts 0; two samples at once give no rate
    assert status_page.throughput(samples) == ((T0 + 10, 5.0), (T0 + 20, 0.0), (T0 + 30, 0.0))
    assert status_page.throughput(samples[:1]) == ()


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (-3, 1), (0.3, 0.5), (1, 1), (1.01, 2), (3, 5), (7, 10), (20, 20), (2001, 5000)],
)
def test_nice_ceiling_is_the_next_1_2_5_step(value: float, ceiling: float) -> None:
    assert status_page.nice_ceiling(value) == pytest.approx(ceiling)


def test_newest_committed_age_is_the_worst_lagging_partition_and_0_when_caught_up() -> None:
    now = T0 + 60
    lagging = Progress(committed={0: 10, 1: 5}, lag={0: 3, 1: 2, 2: 0})
    stamps = {0: int((T0 + 50) * 1000), 1: int((T0 + 20) * 1000)}
    assert newest_committed_age(lagging, stamps, now) == pytest.approx(40.0)
    assert newest_committed_age(lagging, {}, now) is None  # lagging, but nothing read: unknown
    caught_up = Progress(committed={0: 10}, lag={0: 0, 1: 0})
    assert newest_committed_age(caught_up, stamps, now) == 0.0
    # a producer clock ahead of the exporter's never gives a negative age
    assert newest_committed_age(lagging, {0: int((now + 5) * 1000)}, now) == 0.0


def test_empty_history_says_no_samples_yet_and_draws_no_chart() -> None:
    html = page([], kafka_up=False)
    assert "No samples yet" in html
    assert "<svg" not in html
    assert "last read FAILED" in html
    assert '<meta http-equiv="refresh" content="10">' in html


def test_four_titled_charts_with_axis_labels_points_and_latest_values() -> None:
    samples = [
        sample(0, 100, lag=50, newest_committed_age_s=12.5, dead_letters={"parse": 1, "clean": 0}),
        sample(10, 160, lag=20, newest_committed_age_s=4.0, dead_letters={"parse": 3, "clean": 1}),
        sample(20, 220, lag=0, newest_committed_age_s=0.0, dead_letters={"parse": 3, "clean": 2}),
    ]
    html = page(samples)
    titles = re.findall(r"<h2>(.*?)</h2>", html)
    assert titles == [
        "Throughput",
        "Consumer lag",
        "Dead letters",
        "Newest committed applicant&#x27;s age",
    ]
    assert html.count('<svg class="chart"') == 4
    assert html.count("time (s, relative to the last sample)") == 4
    for unit in ("applicants/s", "records", "dead letters", ">s<"):
        assert unit in html
    paths = dict(re.findall(r'data-series="([^"]+)" d="([^"]+)"', html))
    assert set(paths) == {"committed", "lag", "clean", "parse", "age"}
    assert len(re.findall(r"[ML]", paths["committed"])) == 2  # 3 samples: 2 rates
    assert len(re.findall(r"[ML]", paths["lag"])) == 3
    latest = re.findall(r'<p class="latest">(.*?)</p>', html)
    assert "committed: <b>6</b> applicants/s" in latest[0]
    assert "lag: <b>0</b> records" in latest[1]
    assert "clean: <b>2</b> dead letters" in latest[2]
    assert "parse: <b>3</b> dead letters" in latest[2]
    assert "age: <b>0</b> s" in latest[3]
    assert "(caught up)" in latest[3]
    assert "3 samples kept (up to 590 s)" in html
    assert "2026-01-01 00:00:20 UTC (80 s ago)" in html


def test_points_fall_inside_the_plot_and_the_largest_value_reaches_its_top() -> None:
    samples = [sample(t, 0, lag=lag) for t, lag in ((-5000, 7), (0, 40), (10, 100))]
    chart = status_page.charts(samples)[1]
    svg = status_page.svg_chart(chart, window_s=590)
    points = [(float(x), float(y)) for x, y in re.findall(r'cx="([\d.]+)" cy="([\d.]+)"', svg)]
    left, top = status_page.LEFT, status_page.TOP
    right, bottom = left + status_page.PLOT_WIDTH, top + status_page.PLOT_HEIGHT
    assert all(left <= x <= right and top <= y <= bottom for x, y in points), points
    assert points[0][0] == left  # older than the window: pinned to its left edge
    assert points[-1] == (right, top)  # the last sample, 100: the y axis's top
    assert re.findall(r'text-anchor="end">([^<]+)<', svg) == ["0", "50", "100"]  # its ticks


def test_a_chart_without_points_says_so_and_unknown_ages_are_left_out() -> None:
    samples = [sample(0, 10, lag=5, newest_committed_age_s=None)]
    html = page(samples)
    assert html.count("not enough samples yet") == 3  # throughput, dead letters, age
    assert "latest: none yet" in html


def test_what_kafka_wrote_is_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    html = page([sample(0, 1, dead_letters={hostile: 1})], topic=hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_rendering_a_full_history_is_fast() -> None:
    samples = [
        sample(10 * i, 100 * i, lag=i % 7, dead_letters={"parse": i, "clean": i // 2})
        for i in range(60)
    ]
    started = time.perf_counter()
    html = page(samples)
    elapsed = time.perf_counter() - started
    assert html.count('<svg class="chart"') == 4
    assert elapsed < 0.5, elapsed  # measured about 2 ms on the 2-core build machine

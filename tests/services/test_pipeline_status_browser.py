"""The pipeline exporter's /status page in a real headless browser (Debian's chromium, installed
by bin/bootstrap): the exporter samples the stack's real Kafka (private topics and group, fed as
the producer and the topology write them) every second, and chromium loads the page, dumps its
DOM and takes a screenshot, which must hold the four charts in their colours."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageStat
from prometheus_samples import value
from service_kafka import private_topic
from service_pipeline_exporter import commit, exporter, letter, publish, scrape_when

from lendstream.pipeline.dead_letter import STAGES
from lendstream.services.pipeline_exporter import status_page
from lendstream.stack.runtime import StackEndpoints

pytestmark = [pytest.mark.stack, pytest.mark.timeout(300)]

CHROMIUM_TIMEOUT_S = 90.0
SAMPLES_TIMEOUT_S = 60.0
WINDOW = (1280, 1000)
LEGEND_PIXELS = 81  # measured: the latest value's square of a chart's colour, 1280x1000
COMMITTED = "lendstream_pipeline_applicants_committed_total"


class PageParts(HTMLParser):
    """What the test checks in the dumped DOM: section titles, charts, series paths and the
    latest-value lines."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self.charts: list[str] = []  # each chart's aria-label
        self.paths: dict[str, list[str]] = {}  # chart → its series' d attributes
        self.latest: list[str] = []
        self._open: str | None = None  # "h2" or "latest" while inside one
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg" and found.get("class") == "chart":
            self.charts.append(found.get("aria-label") or "")
            self.paths[self.charts[-1]] = []
        elif tag == "path" and found.get("class") == "series" and self.charts:
            self.paths[self.charts[-1]].append(found.get("d") or "")
        elif tag == "h2" or (tag == "p" and found.get("class") == "latest"):
            self._open, self._text = ("h2" if tag == "h2" else "latest"), []

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag in {"h2", "p"}:
            (self.titles if self._open == "h2" else self.latest).append("".join(self._text))
            self._open = None


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [
        "chromium",
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *arguments,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, (command, done.returncode, done.stderr[-2000:])
    return done


def sample_count(page: str) -> int:
    found = re.search(r"(\d+) samples? kept", page)
    assert found, page[:1000]
    return int(found.group(1))


def close_to(pixel: tuple[int, ...], colour: str, tolerance: int = 24) -> bool:
    wanted = (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], wanted, strict=True))


def test_status_page_in_headless_chromium_shows_four_charts_of_real_samples(
    stack_kafka: StackEndpoints, tmp_path: Path
) -> None:
    assert shutil.which("chromium"), "Debian's chromium is missing: run bin/bootstrap as root"
    bootstrap = stack_kafka.kafka_bootstrap
    group = f"lendstream-test-{uuid.uuid4().hex[:8]}"
    with private_topic(bootstrap) as topic, private_topic(bootstrap) as dead_letter_topic:
        # 30 applicants on partition 0, 10 on partition 1; the topology committed 5 and 0
        publish(bootstrap, topic, [(0, b"{}")] * 30 + [(1, b"{}")] * 10)
        commit(bootstrap, group, topic, {0: 5, 1: 0})
        publish(
            bootstrap,
            dead_letter_topic,
            [(0, letter("clean", 0, 1)), (1, letter("clean", 0, 2)), (2, letter("score", 1, 0))],
        )
        env = {"LENDSTREAM_PIPELINE_EXPORTER_HISTORY": "10"}  # a 9 s window: wide segments
        with exporter(tmp_path, bootstrap, topic, dead_letter_topic, group, extra_env=env) as url:
            status_url = url.removesuffix("/metrics") + "/status"
            scrape_when(
                url,
                "the first commit",
                lambda s: value(s, COMMITTED, topic=topic, partition="0") == 5,
            )
            # The topology moves on: 15 more applicants committed, so throughput is above 0.
            commit(bootstrap, group, topic, {0: 20})
            scrape_when(
                url,
                "the second commit",
                lambda s: value(s, COMMITTED, topic=topic, partition="0") == 20,
            )
            deadline = time.monotonic() + SAMPLES_TIMEOUT_S
            while sample_count(page := requests.get(status_url, timeout=10).text) < 4:
                assert time.monotonic() < deadline, f"fewer than 4 samples in {SAMPLES_TIMEOUT_S} s"
                time.sleep(0.5)
            answer = requests.get(status_url, timeout=10)
            assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
            assert '<meta http-equiv="refresh" content="1">' in page

            dom = chromium("--dump-dom", status_url, profile=tmp_path / "profile-dom").stdout
            screenshot = tmp_path / "status.png"
            chromium(f"--screenshot={screenshot}", status_url, profile=tmp_path / "profile-png")

    parts = PageParts()
    parts.feed(dom)
    titles = [
        status_page.THROUGHPUT_TITLE,
        status_page.LAG_TITLE,
        status_page.DEAD_LETTERS_TITLE,
        status_page.AGE_TITLE,
    ]
    assert parts.titles == titles, parts.titles
    assert parts.charts == titles
    assert "No samples yet" not in dom
    points = {
        title: [len(re.findall(r"[ML][\d.]+,[\d.]+", d)) for d in parts.paths[title]]
        for title in titles
    }
    assert min(points[status_page.THROUGHPUT_TITLE]) >= 3, points  # 4+ samples: 3+ rates
    assert min(points[status_page.LAG_TITLE]) >= 4, points
    assert len(points[status_page.DEAD_LETTERS_TITLE]) == len(STAGES), points  # one a stage
    assert min(points[status_page.AGE_TITLE]) >= 4, points
    latest = dict(zip(titles, parts.latest, strict=True))
    assert "clean: 2 dead letters" in latest[status_page.DEAD_LETTERS_TITLE], latest
    assert "score: 1 dead letters" in latest[status_page.DEAD_LETTERS_TITLE], latest
    assert "lag: 20 records" in latest[status_page.LAG_TITLE], latest  # 10 + 10 left
    assert "caught up" not in latest[status_page.AGE_TITLE], latest

    with Image.open(screenshot) as image:
        assert image.size == WINDOW
        rgb = image.convert("RGB")
    colours: Counter[tuple[int, ...]] = Counter()
    for n, pixel in rgb.getcolors(WINDOW[0] * WINDOW[1]) or []:
        assert isinstance(pixel, tuple)
        colours[pixel] = n
    assert len(colours) > 100, len(colours)
    assert max(colours.values()) < 0.95 * WINDOW[0] * WINDOW[1]  # not one flat colour
    assert ImageStat.Stat(rgb.convert("L")).stddev[0] > 10
    for colour in (
        status_page.THROUGHPUT_COLOUR,
        status_page.LAG_COLOUR,
        status_page.AGE_COLOUR,
        status_page.STAGE_COLOURS["clean"],
    ):
        # its legend square is about 81 pixels; the line and its points add a few hundred
        drawn = sum(n for pixel, n in colours.items() if close_to(pixel, colour, tolerance=8))
        assert drawn > LEGEND_PIXELS + 150, (colour, drawn)

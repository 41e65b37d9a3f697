"""The HTML report in a real headless Chromium: it renders, logs no console error, makes no network
request, and markup planted in a surname stays text.

Chromium (Debian's `chromium`) is installed by the fixture when missing; the tests skip, saying why, only
where it cannot be installed. Network requests are read from Chromium's own net log, keeping those the page
made (its network isolation key is the file:// site) apart from the browser's background traffic; a
control page that does make a request proves the check can see one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from snoopwatch.dataset import load_dataset
from snoopwatch.report.html import write_html_report
from test_report_fixtures import HOSTILE_SURNAME, copy_example, example_alerts, example_scores

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_chromium()
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("headless Chromium is not installed and this machine has no apt-get to install it")
    if os.geteuid() != 0:
        pytest.skip("headless Chromium is not installed and installing it with apt-get needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = (["apt-get", "update"], ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=600", "chromium"])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, env=env, timeout=1500, check=False)
        if done.returncode != 0:
            pytest.skip(f"could not install Chromium ({' '.join(step)} failed: {done.stderr.strip()[-300:]})")
    found = _find_chromium()
    if not found:
        pytest.skip("apt-get installed the chromium package but no chromium binary is on PATH")
    return found


def _run(chromium: str, page: Path, work: Path, *extra: str) -> tuple[str, str, list[str]]:
    """Load `page` once; returns (stdout, stderr log, URLs the page itself requested from the network)."""
    profile = work / f"profile-{page.stem}-{len(list(work.iterdir()))}"
    netlog = profile.with_suffix(".netlog.json")
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         f"--log-net-log={netlog}", *extra, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False, cwd=work)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr, _page_requests(netlog)


def _page_requests(netlog: Path) -> list[str]:
    text = netlog.read_text(encoding="utf-8", errors="replace")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short ends inside the events list
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] == start and "file://" in str(params.get("network_isolation_key", "")):
            urls.append(params.get("url", ""))
    return urls


def _console_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Content Security Policy" in line]


@pytest.fixture(scope="module")
def report(example_dataset, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("browser")
    ds = load_dataset(copy_example(example_dataset, work / "data", hostile=True, labels=True))
    return write_html_report(ds, example_scores(ds), example_alerts(), work / "report.html", reveal=True)


def test_report_renders_without_console_errors_or_network(chromium, report, tmp_path):
    shot = tmp_path / "shot.png"
    _, log, requests = _run(chromium, report, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400")
    assert requests == []
    assert _console_lines(log) == []
    pixels = mpimg.imread(shot)[..., :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200, f"screenshot looks blank ({len(colours)} colours)"
    assert pixels.std() > 0.05
    # keep a copy to look at by hand: the page must be something an investigator wants to read
    shutil.copy(shot, report.with_name("report-screenshot.png"))


def test_planted_script_shows_as_text(chromium, report, tmp_path):
    # Without the CSP the escaping alone must stop the script: strip it from a copy and load that.
    html = report.read_text(encoding="utf-8")
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    bare = tmp_path / "no-csp.html"
    bare.write_text(html[:start] + html[html.index(">", start) + 1:], encoding="utf-8")
    dom, log, requests = _run(chromium, bare, tmp_path, "--dump-dom")
    assert "<title>snoopwatch report (trainer mode)</title>" in dom  # the planted script would retitle it
    assert "pwned" not in dom.split("</title>")[0]
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom  # shown as text in the page
    assert HOSTILE_SURNAME not in dom
    assert requests == []  # the planted <img src="http://..."> in a case reference did not load
    assert _console_lines(log) == []


def test_checks_can_see_a_request_a_script_and_a_console_error(chromium, tmp_path):
    """Control: a page that does call out and misbehave is caught by the same checks."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><head><title>control</title></head><body><p>x</p>'
                    '<img src="http://127.0.0.1:9/probe.png"><script>document.title="pwned";console.error("boom")'
                    '</script></body></html>', encoding="utf-8")
    dom, log, requests = _run(chromium, page, tmp_path, "--dump-dom")
    assert requests == ["http://127.0.0.1:9/probe.png"]
    assert "<title>pwned</title>" in dom
    assert any('"boom"' in line for line in _console_lines(log))


def test_checks_can_see_a_csp_violation(chromium, tmp_path):
    """Control: with the report's policy a request is blocked, and the block shows in the console log."""
    from snoopwatch.report.html import CSP

    page = tmp_path / "blocked.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}">'
                    '<title>blocked</title></head><body><img src="http://127.0.0.1:9/probe.png"></body></html>',
                    encoding="utf-8")
    _, log, requests = _run(chromium, page, tmp_path, "--dump-dom")
    assert requests == []
    assert any("Content Security Policy" in line and "probe.png" in line for line in _console_lines(log))

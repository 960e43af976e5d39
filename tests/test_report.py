"""`remediate report`: a run or a saved plan as a change ticket's attachment (Markdown, or one
self-contained HTML file), checked as text and, where Chromium is installed (`.ci/run` installs
it and sets REMEDIATE_BROWSER_REQUIRED), as a real browser shows it."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediate.sim import Simulator
from tests.test_apply import apply, cli, host_args, last_run, rollback

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    BROWSER is None and not os.environ.get("REMEDIATE_BROWSER_REQUIRED"),
    reason="no Chromium (.ci/run installs it)",
)


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=2, restart_seconds=0)  # type: ignore[no-any-return]


def report(state: Path, what: str, form: str) -> str:
    result = cli(state, "report", what, "--format", form)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_run_report_says_what_a_change_ticket_needs(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path, "--change-id", "CHG77").exit_code == 0
    run = last_run(tmp_path)
    text = report(tmp_path, run["id"], "md")
    assert text.startswith(f"# Change {run['id']}: app-only-graph")
    assert "| Change | CHG77 |" in text and "| Status | succeeded |" in text
    assert "| Playbook sha256 | " in text and run["operator"].split(" ")[0] in text
    assert "## Preflight" in text and "| ex01 |" not in text  # servers are named as the run named them
    assert "```diff" in text and '+    <add key="OAuthHttpModule.Profiles"' in text
    assert "- before: (empty)" in text and "Mail.Read" in text
    assert "## Handlers and health" in text and "restart-iis ran; healthy" in text

    page = report(tmp_path, run["id"], "html")
    assert (
        page.startswith("<!DOCTYPE html>")
        and "<script" not in page
        and "http" not in page.split("</style>")[0]
    )
    assert 'class="line add"' in page and "CHG77" in page

    assert rollback(sim, tmp_path, run["id"]).exit_code == 0
    undo = last_run(tmp_path)
    restored = report(tmp_path, undo["id"], "md")
    assert restored.startswith(f"# Rollback {undo['id']}") and f"| Rolls back | {run['id']} |" in restored
    assert "restored the snapshot" in restored
    assert '-    <add key="OAuthHttpModule.Profiles"' in restored  # the diff goes back


def test_a_saved_plan_report_before_approval(sim: Simulator, tmp_path: Path) -> None:
    saved = tmp_path / "change.plan"
    args = host_args(sim)[: host_args(sim).index("--health-timeout")]
    env = {"REMEDIATE_USERNAME": sim.username, "REMEDIATE_PASSWORD": sim.password}
    assert (
        cli(
            tmp_path, "plan", "app-only-graph", *args, "--out", str(saved), "--change-id", "CHG8", env=env
        ).exit_code
        == 0
    )
    text = report(tmp_path, str(saved), "md")
    assert text.startswith("# Plan change.plan (sha256 ") and "| Change | CHG8 |" in text
    assert "> **Note:** Unsupported by Microsoft" in text and "```diff" in text and "## Preflight" in text


def test_what_came_from_elsewhere_is_escaped(sim: Simulator, tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    book = tmp_path / "hostile.yaml"
    step = {
        "name": f"a step {hostile}",
        "xml_token": {
            "path": "%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config",
            "xpath": "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value",
            "separator": "|",
            "token": "a<b>&c",
        },
    }
    book.write_text(
        yaml.safe_dump({"name": "hostile", "description": "x", "steps": [step]}), encoding="utf-8"
    )
    assert apply(sim, tmp_path, "--change-id", f"CHG{hostile}", playbook=str(book)).exit_code == 0
    page = report(tmp_path, last_run(tmp_path)["id"], "html")
    assert "<script" not in page and "&lt;script&gt;" in page and "a&amp;lt;b&amp;gt;&amp;amp;c" in page


def _png_pixels(path: Path) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Width, height and the colours of an 8-bit RGB(A) PNG (Chromium's screenshots), decoded
    with the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    previous, colours = bytearray(stride), set()
    for row in range(height):
        kind, line = (
            raw[row * (stride + 1)],
            bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        colours.update(tuple(line[i : i + 3]) for i in range(0, stride, channels * 4))  # every 4th pixel
        previous = line
    return width, height, colours  # type: ignore[return-value]


@needs_browser
def test_a_browser_shows_the_report_with_its_diff(sim: Simulator, tmp_path: Path) -> None:
    assert BROWSER is not None, "REMEDIATE_BROWSER_REQUIRED, but no chromium"
    assert apply(sim, tmp_path, "--change-id", "CHG99").exit_code == 0
    page = tmp_path / "report.html"
    assert cli(tmp_path, "report", last_run(tmp_path)["id"], "--out", str(page)).exit_code == 0
    browser = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1000,1600",
    ]
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    # the browser parsed it into what a reader sees: the title, the facts, the diff's lines
    assert "<h1>Change " in dom and "CHG99" in dom and 'class="line add"' in dom and 'class="line del"' in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=60, check=True
    )
    width, height, colours = _png_pixels(shot)
    assert (width, height) == (1000, 1600)
    # the diff's added line on green and removed line on red: the page is drawn, styles and all
    assert (218, 251, 225) in colours and (255, 235, 233) in colours

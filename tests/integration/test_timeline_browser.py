"""The timeline of a real run, drawn by headless Chromium: not blank, the builds named.

Needs Debian's `chromium` (tests/testbed/setup.sh installs it): a failure in CI, a skip
elsewhere when it is absent.
"""

from __future__ import annotations

import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from pathlib import Path

import pytest

from builder.api import build
from builder.render.timeline import FILL, TimelineSink
from builder.sinks import TeeSink
from tests.conftest import write_template
from tests.integration.conftest import service_missing

CHROMIUM = Path("/usr/bin/chromium")
NS = "{http://www.w3.org/2000/svg}"
GREEN = tuple(int(FILL["ok"][i : i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        service_missing(f"{CHROMIUM} missing: apt-get install chromium (tests/testbed/setup.sh)")
    return CHROMIUM


def screenshot(browser: Path, page: Path, out: Path, profile: Path) -> None:
    """Headless Chromium draws `page` into a 1200x600 PNG."""
    command = [
        str(browser),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        "--window-size=1200,600",
        page.as_uri(),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and out.exists(), proc.stderr[-2000:]


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and RGB(A) pixels of an 8-bit truecolour PNG (zlib, no Pillow)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[i] = (row[i] + guess) & 0xFF
        rows.append(row)
        prev = row
    pixels = [tuple(r[i : i + 3]) for r in rows for i in range(0, stride, channels)]
    return width, height, pixels


def two_null_builds(directory: Path) -> Path:
    return write_template(
        directory,
        {
            "builders": [
                {"type": "null", "name": "alpha", "communicator": "none"},
                {"type": "null", "name": "beta", "communicator": "none"},
            ],
            "provisioners": [
                {"type": "shell-local", "inline": ["sleep 0.2"]},
                {"type": "shell-local", "inline": ["sleep 0.3"], "only": ["beta"]},
            ],
            "post-processors": [{"type": "manifest", "output": str(directory / "m.json")}],
        },
    )


def test_a_real_runs_timeline_renders_in_chromium(chromium: Path, tmp_path: Path) -> None:
    svg_path, html_path = tmp_path / "timeline.svg", tmp_path / "timeline.html"
    svg_sink, html_sink = TimelineSink(str(svg_path)), TimelineSink(str(html_path))
    report = build(str(two_null_builds(tmp_path)), sink=TeeSink(svg_sink, html_sink))
    assert report.ok, report.errors
    svg_sink.write()
    html_sink.write()

    root = ET.fromstring(svg_path.read_bytes())
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "lane-label"]
    assert labels == ["alpha", "beta"]
    bars = [r.attrib for r in root.iter(f"{NS}rect") if "data-kind" in r.attrib]
    provisioners = [float(b["data-seconds"]) for b in bars if b["data-kind"] == "provisioner"]
    assert len(provisioners) == 3 and min(provisioners) >= 0.2
    assert {b["data-kind"] for b in bars} == {"step", "cleanup", "provisioner", "post-processor"}
    assert {b["data-outcome"] for b in bars} == {"ok"}

    for page in (svg_path, html_path):
        png = tmp_path / f"{page.suffix[1:]}.png"
        screenshot(chromium, page, png, tmp_path / "chromium-profile")
        width, height, pixels = png_pixels(png.read_bytes())
        assert (width, height) == (1200, 600)
        counts = Counter(pixels)
        assert len(counts) > 50, f"{page.name}: only {len(counts)} colours: blank?"
        background = counts.most_common(1)[0][1]
        assert background < 0.97 * len(pixels), f"{page.name}: almost all one colour"
        assert counts[GREEN] > 2000, f"{page.name}: the ok bars are not drawn"

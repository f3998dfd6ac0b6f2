"""`pybuild build -timeline=FILE.svg|FILE.html`: the run drawn as one lane per build.

Made only of the lifecycle events `-json` streams (run, build, step, provisioner and
post-processor started/finished): a bar ends at its finished event's `at` and lasts its
`seconds`. Each lane has a row of builder steps (their cleanups lighter, after them), a row
of provisioners and one of post-processors; a bar still open at the end is drawn up to the
last event, striped. Self-contained: inline SVG, generic fonts, no script, nothing fetched,
every user-supplied text escaped.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from builder.errors import PybuildError
from builder.events import (
    BuildFinished,
    BuildStarted,
    Event,
    PostProcessorFinished,
    PostProcessorStarted,
    ProvisionerFinished,
    ProvisionerStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)

__all__ = ["TimelineSink", "render_html", "render_svg"]

Outcome = Literal["ok", "failed", "cancelled", "unfinished"]
Kind = Literal["step", "cleanup", "provisioner", "post-processor"]
LaneState = Literal["ok", "failed", "cancelled", "unfinished", "not started"]

LIFECYCLE: tuple[type[Event], ...] = (RunStarted, RunFinished, BuildStarted, BuildFinished)
LIFECYCLE += (StepStarted, StepFinished, ProvisionerStarted, ProvisionerFinished)
LIFECYCLE += (PostProcessorStarted, PostProcessorFinished)

INK, MUTED, GRID = "#1f2328", "#57606a", "#d8dee4"
FILL = {"ok": "#2f9e5b", "failed": "#d1453b", "cancelled": "#8a8f98"}
LIGHT = {"ok": "#bfe6cd", "failed": "#f5c2bd", "cancelled": "#dcdfe3"}
EDGE = {"ok": "#237a45", "failed": "#a5322a", "cancelled": "#6b7079", "unfinished": "#a87512"}
STATE_COLOUR = {**FILL, "unfinished": "#c98a10", "not started": "#b0b4ba"}
STRIPES = "url(#pb-unfinished)"
DEFS = (
    '<defs><pattern id="pb-unfinished" width="8" height="8" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="8" height="8" fill="#f7dc9c"/>'
    '<rect width="3" height="8" fill="#e0a526"/></pattern></defs>'
)
TRACKS: tuple[tuple[str, tuple[Kind, ...]], ...] = (
    ("steps", ("step", "cleanup")),
    ("provisioners", ("provisioner",)),
    ("post-processors", ("post-processor",)),
)
TICK_STEPS = [m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5)] + [10, 15, 30, 60, 120, 300]
TICK_STEPS += [600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
WIDTH, MARGIN, RIGHT, TOP, TRACK_W = 1200, 16, 36, 64, 104
ROW, GAP, PAD, LABEL_MIN, BAR_FONT = 18, 4, 7, 40, 10.5
BOLD = ("title", "lane-label", "total")  # text classes drawn bold
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Bar:
    """One interval of a lane, in seconds since the run started; `detail` is its tooltip."""

    kind: Kind
    label: str
    start: float
    end: float
    outcome: Outcome
    detail: str


class Span(NamedTuple):
    """What a started/finished pair is about; `key` pairs them within a build."""

    key: tuple[object, ...]
    kind: Kind
    label: str
    detail: str


@dataclass
class Lane:
    """One build: its bars, and the spans still open (with their start)."""

    name: str
    type: str = ""
    seconds: float | None = None
    state: LaneState = "not started"
    bars: list[Bar] = field(default_factory=list)
    open: dict[tuple[object, ...], tuple[Span, float]] = field(default_factory=dict)


@dataclass
class Timeline:
    """The run: `origin` is its start (epoch seconds), `span` the seconds to its last event."""

    origin: float = 0.0
    span: float = 0.0
    total: float | None = None  # RunFinished.seconds; None when the run did not finish
    cancelled: bool = False
    run_id: str = ""
    lanes: dict[str, Lane] = field(default_factory=dict)


def collect(events: Sequence[Event]) -> Timeline:
    """Pair started/finished events into bars, lanes in the order RunStarted lists builds."""
    timeline = Timeline()
    if not events:
        return timeline
    runs = [e for e in events if isinstance(e, RunStarted)]
    timeline.origin = runs[0].at if runs else min(e.at for e in events)
    for name in runs[0].builds if runs else ():
        timeline.lanes.setdefault(name, Lane(name))
    for event in events:
        if isinstance(event, LIFECYCLE):
            _apply(timeline, event, event.at - timeline.origin)
    timeline.span = max(0.0, max(e.at for e in events) - timeline.origin)
    for lane in timeline.lanes.values():
        for span, start in lane.open.values():
            note = f"{span.detail}: unfinished, still running at the last event"
            lane.bars.append(Bar(span.kind, span.label, start, timeline.span, "unfinished", note))
        lane.open.clear()
    return timeline


def _apply(timeline: Timeline, event: Event, t: float) -> None:
    if isinstance(event, RunStarted):
        timeline.run_id = event.run_id
    elif isinstance(event, RunFinished):
        timeline.total, timeline.cancelled = event.seconds, event.cancelled
    elif event.target:
        lane = timeline.lanes.setdefault(event.target, Lane(event.target))
        if isinstance(event, BuildStarted):
            lane.type, lane.state = event.type, "unfinished"
        elif isinstance(event, BuildFinished):
            lane.seconds = event.seconds
            lane.state = "cancelled" if event.cancelled else "failed" if event.error else "ok"
        elif (opened := _started(event)) is not None:
            lane.open[opened.key] = (opened, t)
        elif (finished := _finished(event)) is not None:
            span, seconds, outcome = finished
            lane.open.pop(span.key, None)
            detail = f"{span.detail}: {duration(seconds)}, {outcome}"
            lane.bars.append(Bar(span.kind, span.label, max(0.0, t - seconds), t, outcome, detail))


def _started(e: Event) -> Span | None:
    if isinstance(e, StepStarted):
        return Span(("step", e.step), "step", e.step, f"step {e.step}")
    if isinstance(e, ProvisionerStarted):
        return Span(("prov", e.index), "provisioner", e.name, f"provisioner {e.index} ({e.type})")
    if isinstance(e, PostProcessorStarted):
        what = f"post-processor {e.index} ({e.type}) of chain {e.chain}"
        return Span(("pp", e.chain, e.index), "post-processor", e.name, what)
    return None


def _finished(e: Event) -> tuple[Span, float, Outcome] | None:
    if isinstance(e, StepFinished) and e.cleanup:
        return Span((), "cleanup", e.step, f"cleanup of step {e.step}"), e.seconds, e.outcome
    if isinstance(e, StepFinished):
        return Span(("step", e.step), "step", e.step, f"step {e.step}"), e.seconds, e.outcome
    if isinstance(e, ProvisionerFinished):
        what = f"provisioner {e.index} ({e.type}), {e.attempts} attempt(s)"
        what += f", {e.error}" if e.error else ""
        return Span(("prov", e.index), "provisioner", e.name, what), e.seconds, e.outcome
    if isinstance(e, PostProcessorFinished):
        what = f"post-processor {e.index} ({e.type}) of chain {e.chain}"
        what += f", {e.error}" if e.error else ""
        span = Span(("pp", e.chain, e.index), "post-processor", e.name, what)
        return span, e.seconds, e.outcome
    return None


# ---------------------------------------------------------------------- text


def duration(seconds: float) -> str:
    """Short and Go-like: `<1ms`, `210ms`, `4.25s`, `12.3s`, `2m05s`, `1h02m`."""
    if seconds < 0.0005:
        return "<1ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _tick_label(t: float, step: float) -> str:
    """`0s`, `0.25s`, `45s`, `1m30s`, `2h`: as precise as the tick step needs."""
    if t == 0:
        return "0s"
    if t >= 60 and step >= 1:
        whole = round(t)
        h, m, s = whole // 3600, whole % 3600 // 60, whole % 60
        return (f"{h}h" if h else "") + (f"{m}m" if m or (h and s) else "") + (f"{s}s" if s else "")
    return f"{t:.{max(0, -math.floor(math.log10(step) + 1e-9))}f}s"


def _esc(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _attr(text: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", text))


def _width(text: str, size: float) -> float:
    """An estimate of the text's width in px (no font metrics in the standard library)."""
    wide = sum(1 for c in text if unicodedata.east_asian_width(c) in "WF")
    return size * (0.62 * (len(text) - wide) + 1.0 * wide)


def _fit(text: str, size: float, room: float) -> str:
    """`text`, cut with an ellipsis to fit `room` px; '' when not even one letter fits."""
    if _width(text, size) <= room:
        return text
    while text and _width(text + "…", size) > room:
        text = text[:-1]
    return text + "…" if text else ""


def _text(
    x: float, y: float, text: str, size: float, cls: str = "", fill: str = INK, anchor: str = ""
) -> str:
    extra = f' class="{cls}"' if cls else ""
    extra += f' text-anchor="{anchor}"' if anchor else ""
    extra += ' font-weight="bold"' if cls in BOLD else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"{extra}>{_esc(text)}</text>'
    )


# ---------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class _Frame:
    """The chart's x range and the seconds it spans."""

    x0: float
    x1: float
    span: float

    def x(self, t: float) -> float:
        return self.x0 + (self.x1 - self.x0) * min(max(t, 0.0), self.span) / self.span

    @property
    def slack(self) -> float:
        """The seconds one px stands for: bars overlapping by less share a row."""
        return self.span / (self.x1 - self.x0)


def _rows(bars: list[Bar], slack: float) -> list[list[Bar]]:
    """Pack bars into as few rows as they need without overlapping."""
    rows: list[list[Bar]] = []
    for bar in sorted(bars, key=lambda b: (b.start, b.end)):
        row = next((r for r in rows if r[-1].end <= bar.start + slack), None)
        if row is None:
            rows.append([bar])
        else:
            row.append(bar)
    return rows


def _tracks(lane: Lane, frame: _Frame) -> list[tuple[str, list[list[Bar]]]]:
    """The lane's rows: steps always, provisioners and post-processors when it has any."""
    out = []
    for title, kinds in TRACKS:
        bars = [b for b in lane.bars if b.kind in kinds]
        if bars or title == "steps":
            out.append((title, _rows(bars, frame.slack) or [[]]))
    return out


def _rect(bar: Bar, x: float, y: float, w: float, build: str) -> str:
    fill = STRIPES if bar.outcome == "unfinished" else FILL[bar.outcome]
    fill = LIGHT[bar.outcome] if bar.kind == "cleanup" else fill
    dash = ' stroke-dasharray="3 2"' if bar.outcome == "unfinished" else ""
    return (
        f'<rect class="bar {bar.kind} {bar.outcome}" data-build={_attr(build)} '
        f'data-kind="{bar.kind}" data-outcome="{bar.outcome}" '
        f'data-seconds="{bar.end - bar.start:.6f}" x="{x:.2f}" y="{y:.1f}" width="{w:.2f}" '
        f'height="{ROW}" rx="2" fill="{fill}" stroke="{EDGE[bar.outcome]}" stroke-width="0.8"'
        f"{dash}><title>{_esc(build)}: {_esc(bar.detail)}</title></rect>"
    )


def _row(bars: list[Bar], y: float, frame: _Frame, build: str) -> list[str]:
    """A row's bars, each labelled inside, else beside it where the row is empty."""
    spans = [(frame.x(b.start), max(1.0, frame.x(b.end) - frame.x(b.start))) for b in bars]
    out, free = [], frame.x0  # the row is empty from `free` on: past bars and labels so far
    for i, (bar, (x, w)) in enumerate(zip(bars, spans, strict=True)):
        out.append(_rect(bar, x, y, w, build))
        after = spans[i + 1][0] if i + 1 < len(spans) else WIDTH - 4.0
        for text in (f"{bar.label} {duration(bar.end - bar.start)}", bar.label):
            if _width(text, BAR_FONT) + 8 <= w:
                light = bar.kind == "cleanup" or bar.outcome == "unfinished"
                colour = INK if light else "#ffffff"
                out.append(_text(x + 4, y + 12.8, text, BAR_FONT, "bar-label", colour))
                break
        else:
            text = f"cleanup {bar.label}" if bar.kind == "cleanup" else bar.label
            need = _width(text, BAR_FONT) + 4
            if x + w + need <= after:
                out.append(_text(x + w + 3, y + 12.8, text, BAR_FONT, "bar-label", MUTED))
                free = x + w + need
            elif x - need >= free + 2:
                out.append(_text(x - 3, y + 12.8, text, BAR_FONT, "bar-label", MUTED, "end"))
        free = max(free, x + w)
    return out


def _info(lane: Lane) -> str:
    """The line under a lane's name: `docker · 12.3s · ok`."""
    took = f" · {duration(lane.seconds)}" if lane.seconds is not None else ""
    return f"{lane.type or 'build'}{took} · {lane.state}"


def _lane(
    lane: Lane, y: float, frame: _Frame, name_w: float, shaded: bool
) -> tuple[str, str, float]:
    """The lane's background, everything on it, and its height."""
    tracks = _tracks(lane, frame)
    rows = sum(len(r) for _, r in tracks)
    height = max(LABEL_MIN, 2 * PAD + rows * ROW + (rows - 1) * GAP)
    fill = "#f6f8fa" if shaded else "#ffffff"
    back = f'<rect x="0" y="{y:.1f}" width="{WIDTH}" height="{height}" fill="{fill}"/>'
    name = _fit(lane.name, 12, name_w)
    out = [_text(MARGIN, y + 16, name, 12, "lane-label")]
    if name != lane.name:  # cut: the whole name as its tooltip
        out[-1] = out[-1].replace("</text>", f"<title>{_esc(lane.name)}</title></text>")
    colour = STATE_COLOUR[lane.state]
    out.append(f'<circle cx="{MARGIN + 3.5}" cy="{y + 28.5}" r="3.5" fill="{colour}"/>')
    out.append(_text(MARGIN + 10, y + 32, _fit(_info(lane), 10, name_w - 10), 10, "lane-info"))
    row_y = y + PAD
    for title, track_rows in tracks:
        out.append(_text(frame.x0 - 8, row_y + 12.5, title, 10, "track-label", MUTED, "end"))
        for row in track_rows:
            out += _row(row, row_y, frame, lane.name)
            row_y += ROW + GAP
    return back, "\n".join(out), float(height)


def _ticks(frame: _Frame) -> tuple[list[float], float]:
    most = max(2, int((frame.x1 - frame.x0) // 90))
    step = next((s for s in TICK_STEPS if frame.span / s <= most), TICK_STEPS[-1])
    while frame.span / step > most:
        step *= 2
    return [i * step for i in range(int(frame.span / step + 1e-9) + 1)], step


def _axis(frame: _Frame, top: float, bottom: float, total: str) -> list[str]:
    """Grid lines through the lanes, the axis under them with its ticks, the run's end."""
    ticks, step = _ticks(frame)
    line = '<line x1="{:.2f}" y1="{:.1f}" x2="{:.2f}" y2="{:.1f}" stroke="{}"{}/>'
    out = [line.format(frame.x0, bottom, frame.x1, bottom, MUTED, "")]
    for t in ticks:
        x = frame.x(t)
        out.append(line.format(x, top, x, bottom, GRID, ' class="grid"'))
        out.append(line.format(x, bottom, x, bottom + 5, MUTED, ""))
        out.append(_text(x, bottom + 17, _tick_label(t, step), 10, "tick", INK, "middle"))
    out.append(line.format(frame.x1, top - 4, frame.x1, bottom + 5, INK, ' stroke-dasharray="4 3"'))
    out.append(_text(frame.x0, bottom + 32, "time since the run started", 10, "", MUTED))
    out.append(_text(frame.x1, bottom + 32, total, 10.5, "total", INK, "end"))
    return out


def _legend(y: float) -> list[str]:
    items = [(FILL[o], EDGE[o], o) for o in ("ok", "failed", "cancelled")]
    items += [(LIGHT["ok"], EDGE["ok"], "step cleanup (lighter: ok / failed)")]
    items += [(STRIPES, EDGE["unfinished"], "unfinished: open at the last event")]
    out, x = [], float(MARGIN)
    for fill, edge, text in items:
        out.append(
            f'<rect class="legend" x="{x:.1f}" y="{y}" width="22" height="12" rx="2" '
            f'fill="{fill}" stroke="{edge}" stroke-width="0.8"/>'
        )
        out.append(_text(x + 28, y + 10, text, 10.5, "legend-label"))
        x += 28 + _width(text, 10.5) + 22
    return out


def _header(timeline: Timeline, lanes: int, end: str) -> list[str]:
    when = datetime.fromtimestamp(timeline.origin, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    state = " · cancelled" if timeline.cancelled else ""
    sub = f"{lanes} build{'' if lanes == 1 else 's'} · {end}{state} · started {when}"
    sub += f" · run {timeline.run_id}" if timeline.run_id else ""
    title = _text(MARGIN, 26, "pybuild build timeline", 16, "title")
    return [title, _text(MARGIN, 46, _fit(sub, 11, WIDTH - 2 * MARGIN), 11, "subtitle", MUTED)]


def render_svg(events: Sequence[Event]) -> str:
    """The timeline of these events as a standalone SVG document."""
    timeline = collect(events)
    lanes = list(timeline.lanes.values())
    widths = [max(_width(lane.name, 13), _width(_info(lane), 10) + 10) for lane in lanes]
    name_w = min(260.0, max([90.0, *widths]))
    frame = _Frame(MARGIN + name_w + 12 + TRACK_W, WIDTH - RIGHT, timeline.span or 1.0)
    backs, drawn, y = [], [], float(TOP)
    for i, lane in enumerate(lanes):
        back, text, lane_height = _lane(lane, y, frame, name_w, i % 2 == 0)
        backs.append(back)
        drawn.append(text)
        y += lane_height
    if not lanes:
        drawn.append(_text(MARGIN, y + 20, "no builds ran", 12, "", MUTED))
        y += 30
    if timeline.total is not None:
        end = f"total {duration(timeline.total)}"
    else:
        end = f"unfinished: drawn to the last event at {duration(timeline.span)}"
    height = f"{y + 72:.0f}"
    axis = _axis(frame, TOP, y, end)
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}">',
            "<title>pybuild build timeline</title>",
            DEFS,
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            *_header(timeline, len(lanes), end),
            *backs,
            *axis,  # grid lines under the bars
            *drawn,
            *_legend(y + 48),
            "</svg>",
        ]
    )


def render_html(events: Sequence[Event]) -> str:
    """The same SVG inline in a minimal HTML page (no script, nothing fetched)."""
    svg = render_svg(events).split("\n", 1)[1]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"/>'
        "<title>pybuild build timeline</title>"
        "<style>body{margin:16px;background:#ffffff}</style></head>\n"
        f"<body>\n{svg}\n</body>\n</html>\n"
    )


class TimelineSink:
    """Collects the lifecycle events (from any build thread); `write` draws them to `path`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._latest: Event | None = None  # the newest other event: where open bars end

    def emit(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, LIFECYCLE):
                self._events.append(event)
            elif self._latest is None or event.at >= self._latest.at:
                self._latest = event

    def events(self) -> list[Event]:
        """What has been collected so far, in arrival order."""
        with self._lock:
            return self._events + ([self._latest] if self._latest is not None else [])

    def write(self) -> None:
        """Render to `path`: HTML when it ends in .html or .htm, else SVG."""
        events = self.events()
        html = self.path.lower().endswith((".html", ".htm"))
        text = render_html(events) if html else render_svg(events)
        try:
            Path(self.path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise PybuildError(
                f"-timeline: cannot write {self.path}: {exc.strerror or exc}"
            ) from exc

"""The -timeline picture, from synthetic event sequences with explicit times."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest

from builder.errors import PybuildError
from builder.events import (
    BuildFinished,
    BuildStarted,
    Event,
    Message,
    PostProcessorFinished,
    PostProcessorStarted,
    ProvisionerFinished,
    ProvisionerStarted,
    RunFinished,
    RunStarted,
    Say,
    StepFinished,
    StepOutcome,
    StepStarted,
)
from builder.render.timeline import FILL, LIGHT, TimelineSink, render_html, render_svg

T0 = 1_800_000_000.0
NS = "{http://www.w3.org/2000/svg}"


def tree(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode())


def bars(svg: str, **want: str) -> list[dict[str, str]]:
    """The attributes of every bar whose data-* attributes match `want`."""
    found = [r.attrib for r in tree(svg).iter(f"{NS}rect") if "data-kind" in r.attrib]
    return [a for a in found if all(a.get(f"data-{k}") == v for k, v in want.items())]


def texts(svg: str, cls: str) -> list[str]:
    return [t.text or "" for t in tree(svg).iter(f"{NS}text") if t.get("class") == cls]


def step(
    build: str, name: str, start: float, end: float, outcome: StepOutcome = "ok"
) -> list[Event]:
    return [
        StepStarted(build, name, at=T0 + start),
        StepFinished(build, name, end - start, outcome, at=T0 + end),
    ]


def cleanup(build: str, name: str, start: float, end: float, outcome: StepOutcome = "ok") -> Event:
    return StepFinished(build, name, end - start, outcome, True, at=T0 + end)


def provisioner(
    build: str, index: int, start: float, end: float, outcome: StepOutcome = "ok"
) -> list[Event]:
    return [
        ProvisionerStarted(build, index, "shell", f"shell-{index}", at=T0 + start),
        ProvisionerFinished(
            build,
            index,
            "shell",
            f"shell-{index}",
            end - start,
            outcome,
            at=T0 + end,
        ),
    ]


def post_processor(build: str, index: int, start: float, end: float) -> list[Event]:
    where = (build, 0, index, "manifest", f"manifest-{index}")
    return [
        PostProcessorStarted(*where, "art", at=T0 + start),
        PostProcessorFinished(*where, end - start, "ok", "art", at=T0 + end),
    ]


def a_run(builds: Sequence[str] = ("alpha", "beta")) -> list[Event]:
    """alpha: steps 0-2 s and 2-8 s (a 1-5 s provisioner), cleanups, a post-processor; beta fails."""
    return [
        RunStarted("", "run-1", tuple(builds), at=T0),
        BuildStarted("alpha", "null", at=T0),
        BuildStarted("beta", "null", at=T0),
        *step("alpha", "StepOne", 0, 2),
        *step("beta", "StepOne", 0, 1),
        *step("beta", "StepBroken", 1, 3, "failed"),
        cleanup("beta", "StepBroken", 3, 3.5, "failed"),
        cleanup("beta", "StepOne", 3.5, 4),
        BuildFinished("beta", 4.0, error="it broke", at=T0 + 4),
        StepStarted("alpha", "StepProvision", at=T0 + 2),
        *provisioner("alpha", 0, 2, 5),
        StepFinished("alpha", "StepProvision", 6.0, "ok", at=T0 + 8),
        cleanup("alpha", "StepProvision", 8, 8.5),
        cleanup("alpha", "StepOne", 8.5, 9),
        *post_processor("alpha", 0, 9, 10),
        BuildFinished("alpha", 10.0, at=T0 + 10),
        RunFinished("", 10.0, errors=(("beta", "it broke"),), at=T0 + 10),
    ]


def test_one_lane_per_build_in_the_order_run_started_lists_them() -> None:
    svg = render_svg(a_run(("beta", "alpha")))
    assert texts(svg, "lane-label") == ["beta", "alpha"]
    labels = [t for t in tree(svg).iter(f"{NS}text") if t.get("class") == "lane-label"]
    assert float(labels[0].get("y", 0)) < float(labels[1].get("y", 0))
    assert {b["data-build"] for b in bars(svg)} == {"alpha", "beta"}


def test_a_build_missing_from_run_started_still_gets_a_lane_after_the_others() -> None:
    events = [RunStarted("", "r", ("alpha",), at=T0), *step("late", "S", 1, 2)]
    events += step("alpha", "S", 0, 1)
    assert texts(render_svg(events), "lane-label") == ["alpha", "late"]


def test_bar_widths_are_proportional_to_durations() -> None:
    svg = render_svg(a_run())
    one = bars(svg, build="alpha", kind="step")[0]
    widths = {
        (b["data-kind"], b["data-seconds"][:4]): float(b["width"]) for b in bars(svg, build="alpha")
    }
    two, six = widths[("step", "2.00")], widths[("step", "6.00")]
    three = widths[("provisioner", "3.00")]
    assert six == pytest.approx(3 * two, rel=1e-3)
    assert three == pytest.approx(1.5 * two, rel=1e-3)
    # the 2 s step starts at the left edge; the 6 s one starts where it ends
    provision = bars(svg, build="alpha", kind="step")[1]
    assert float(provision["x"]) == pytest.approx(float(one["x"]) + two, abs=0.02)


def test_bars_are_coloured_by_outcome_and_cleanups_are_lighter() -> None:
    svg = render_svg(a_run())
    [failed] = bars(svg, build="beta", kind="step", outcome="failed")
    assert failed["fill"] == FILL["failed"]
    assert {b["fill"] for b in bars(svg, kind="step", outcome="ok")} == {FILL["ok"]}
    cleanups = bars(svg, build="beta", kind="cleanup")
    assert [c["fill"] for c in cleanups] == [LIGHT["failed"], LIGHT["ok"]]
    assert LIGHT["ok"] != FILL["ok"] and LIGHT["failed"] != FILL["failed"]
    last_run_bar = max(
        float(b["x"]) + float(b["width"]) for b in bars(svg, build="beta", kind="step")
    )
    assert all(float(c["x"]) >= last_run_bar - 0.01 for c in cleanups)


def test_cancelled_bars_have_their_own_colour() -> None:
    events = [
        RunStarted("", "r", ("a",), at=T0),
        *step("a", "StepWait", 0, 5, "cancelled"),
        BuildFinished("a", 5.0, cancelled=True, at=T0 + 5),
        RunFinished("", 5.0, cancelled=True, at=T0 + 5),
    ]
    svg = render_svg(events)
    [bar] = bars(svg, outcome="cancelled")
    assert bar["fill"] == FILL["cancelled"] not in (FILL["ok"], FILL["failed"])
    assert "cancelled" in texts(svg, "lane-info")[0]


def test_provisioners_and_post_processors_have_their_own_rows() -> None:
    svg = render_svg(a_run())
    assert texts(svg, "track-label") == [
        "steps",
        "provisioners",
        "post-processors",
        "steps",  # beta ran no provisioner and no post-processor
    ]
    [pp] = bars(svg, kind="post-processor")
    [prov] = bars(svg, kind="provisioner")
    step_one = bars(svg, build="alpha", kind="step")[0]
    assert float(step_one["y"]) < float(prov["y"]) < float(pp["y"])
    assert float(pp["x"]) > float(prov["x"]) + float(prov["width"])


def test_time_axis_legend_and_total() -> None:
    svg = render_svg(a_run())
    ticks = texts(svg, "tick")
    assert ticks[0] == "0s" and "10s" in ticks and len(ticks) >= 5
    assert texts(svg, "total") == ["total 10.0s"]
    legend = " ".join(texts(svg, "legend-label"))
    for word in ("ok", "failed", "cancelled", "cleanup", "unfinished"):
        assert word in legend


def test_hostile_names_are_escaped() -> None:
    evil = '<script>alert("x")</script> & co'
    events = [
        RunStarted("", "r", (evil,), at=T0),
        BuildStarted(evil, "null", at=T0),
        *step(evil, "Step<b>&amp;", 0, 30),
        ProvisionerStarted(evil, 0, "shell", "p\x01'\"&<", at=T0 + 1),
        ProvisionerFinished(evil, 0, "shell", "p\x01'\"&<", 1.0, "failed", error="<x/>", at=T0 + 2),
        BuildFinished(evil, 30.0, error="</svg>", at=T0 + 30),
    ]
    svg = render_svg(events)
    assert "<script" not in svg and "</svg>" not in svg[:-10]
    root = tree(svg)  # well-formed despite the control character
    assert not [e for e in root.iter() if e.tag.endswith(("script", "b", "x"))]
    assert texts(svg, "lane-label") == [evil]
    assert {b["data-build"] for b in bars(svg)} == {evil}
    labels = texts(svg, "bar-label")
    assert any(label.startswith("Step<b>&amp;") for label in labels)


def test_long_build_names_are_cut_with_the_full_name_as_a_tooltip() -> None:
    name = "a-very-long-build-name-" * 6
    svg = render_svg([RunStarted("", "r", (name,), at=T0), *step(name, "S", 0, 1)])
    [label] = [t for t in tree(svg).iter(f"{NS}text") if t.get("class") == "lane-label"]
    assert (label.text or "").endswith("…") and len(label.text or "") < len(name)
    assert label.findtext(f"{NS}title") == name


def test_open_bars_are_drawn_to_the_last_event_and_marked_unfinished() -> None:
    events = [
        RunStarted("", "r", ("a", "b"), at=T0),
        BuildStarted("a", "null", at=T0),
        *step("a", "StepOne", 0, 2),
        StepStarted("a", "StepProvision", at=T0 + 2),
        ProvisionerStarted("a", 0, "shell", "shell", at=T0 + 3),
        Message("a", "still going", at=T0 + 8),  # the last event of the run
    ]
    svg = render_svg(events)
    done = bars(svg, outcome="ok")[0]
    open_bars = bars(svg, outcome="unfinished")
    assert [b["data-kind"] for b in open_bars] == ["step", "provisioner"]
    ends = {round(float(b["x"]) + float(b["width"]), 1) for b in open_bars}
    assert len(ends) == 1  # both end at the last event, the right edge of the chart
    step_open = open_bars[0]
    assert float(step_open["width"]) == pytest.approx(3 * float(done["width"]), rel=1e-3)
    assert step_open["fill"] == "url(#pb-unfinished)" and "stroke-dasharray" in step_open
    tips = [r.findtext(f"{NS}title") or "" for r in tree(svg).iter(f"{NS}rect")]
    assert sum("unfinished, still running at the last event" in tip for tip in tips) == 2
    info = texts(svg, "lane-info")
    assert "unfinished" in info[0] and "not started" in info[1]
    assert "unfinished: drawn to the last event at 8.00s" in texts(svg, "total")[0]


def test_a_retried_step_gives_two_bars() -> None:
    events = [RunStarted("", "r", ("a",), at=T0), *step("a", "S", 0, 1, "failed")]
    events += [cleanup("a", "S", 1, 1.5), *step("a", "S", 1.5, 3)]
    assert [b["data-outcome"] for b in bars(render_svg(events), kind="step")] == ["failed", "ok"]


def test_without_events_it_still_draws_a_valid_picture() -> None:
    svg = render_svg([])
    tree(svg)
    assert "no builds ran" in svg


def test_the_picture_is_self_contained() -> None:
    svg = render_svg(a_run())
    root = tree(svg)
    for element in root.iter():
        assert not element.tag.endswith(("script", "image", "foreignObject", "style", "a"))
        for key, value in element.attrib.items():
            assert "href" not in key and not key.startswith("on")
            assert "http" not in value or key == "xmlns"
    assert "@import" not in svg and "@font-face" not in svg and "url(http" not in svg


def test_sink_writes_svg_and_html(tmp_path: Path) -> None:
    events = a_run()
    svg_sink, html_sink = (
        TimelineSink(str(tmp_path / "t.svg")),
        TimelineSink(str(tmp_path / "t.html")),
    )
    for event in [*events, Say("alpha", "chatter", at=T0 + 1)]:
        svg_sink.emit(event)
        html_sink.emit(event)
    svg_sink.write()
    html_sink.write()
    svg = (tmp_path / "t.svg").read_text(encoding="utf-8")
    assert svg == render_svg(events)
    html = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert html == render_html(events)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    page = ET.fromstring(html.encode())  # the page is well-formed too
    assert page.tag == "html" and page.find(f"body/{NS}svg") is not None
    assert svg.split("\n", 1)[1] in html


def test_sink_collects_from_many_threads() -> None:
    sink = TimelineSink("unused.svg")
    names = [f"b{i}" for i in range(8)]

    def worker(name: str) -> None:
        for i in range(200):
            sink.emit(StepStarted(name, f"S{i}", at=T0 + i))
            sink.emit(Message(name, "noise", at=T0 + i))
            sink.emit(StepFinished(name, f"S{i}", 0.5, "ok", at=T0 + i + 0.5))

    threads = [threading.Thread(target=worker, args=(n,)) for n in names]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    events = sink.events()
    assert sum(isinstance(e, StepFinished) for e in events) == 8 * 200
    assert sum(isinstance(e, Message) for e in events) == 1  # only the newest other event
    assert len(bars(render_svg(events), kind="step")) == 8 * 200


def test_write_failure_names_the_flag_and_the_path(tmp_path: Path) -> None:
    sink = TimelineSink(str(tmp_path / "missing" / "t.svg"))
    with pytest.raises(PybuildError, match=r"-timeline: cannot write .*missing/t\.svg"):
        sink.write()

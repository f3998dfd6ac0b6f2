"""The engine with fake plugins: artifact flow, provisioner wrappers, on-error, cancellation."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import builder
from builder.engine import RunOptions, load_template, prepare, run
from builder.errors import ConfigErrors
from builder.events import ErrorMessage, RunFinished, Say
from builder.multistep import OnError
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.fakes import plugins as fakes


@pytest.fixture(autouse=True)
def fake_plugins() -> None:
    fakes.register()
    fakes.JOURNAL.clear()
    fakes.FakeProvisioner.attempts.clear()


def go(tmp_path: Path, data: dict[str, Any], **opts: Any) -> tuple[dict[str, Any], RecordingSink]:
    path = write_template(tmp_path, data)
    sink = RecordingSink()
    prepared = prepare(load_template(str(path), opts.pop("variables", None)), RunOptions(**opts))
    return run(prepared, sink), sink


def pp(label: str, **kw: Any) -> dict[str, Any]:
    return {"type": "fake-pp", "label": label, **kw}


def test_cleanups_run_in_reverse_order_after_success(tmp_path: Path) -> None:
    results, _ = go(tmp_path, {"builders": [{"type": "fake"}]})
    assert results["fake"].error is None
    steps = [j.split(":", 1)[1] for j in fakes.JOURNAL if ":run:" in j or ":cleanup:" in j]
    assert steps == [
        "run:create",
        "run:wait",
        "run:finish",
        "cleanup:finish",
        "cleanup:wait",
        "cleanup:create",
    ]


def test_failing_step_still_cleans_up_every_started_step(tmp_path: Path) -> None:
    results, _ = go(tmp_path, {"builders": [{"type": "fake", "fail_step": "wait"}]})
    assert "step wait failed on purpose" in str(results["fake"].error)
    assert "fake:run:finish" not in fakes.JOURNAL
    assert fakes.JOURNAL[-2:] == ["fake:cleanup:wait", "fake:cleanup:create"]


def test_on_error_abort_skips_cleanups(tmp_path: Path) -> None:
    results, sink = go(
        tmp_path, {"builders": [{"type": "fake", "fail_step": "finish"}]}, on_error=OnError.ABORT
    )
    assert results["fake"].error is not None
    assert not [j for j in fakes.JOURNAL if ":cleanup:" in j]
    assert any("aborted: skipping cleanup of step 'create'" in t for t in sink.texts(Say))


def test_error_cleanup_provisioner_runs_when_a_later_step_fails(tmp_path: Path) -> None:
    results, sink = go(
        tmp_path,
        {
            "builders": [{"type": "fake", "fail_step": "finish"}],
            "provisioners": [{"type": "fake", "label": "main"}],
            "error-cleanup-provisioner": {"type": "fake", "label": "rescue"},
        },
    )
    assert results["fake"].error is not None
    assert "fake:rescue:provision:1" in fakes.JOURNAL
    # it runs before the builder's earlier cleanups (the machine is still there)
    assert fakes.JOURNAL.index("fake:rescue:provision:1") < fakes.JOURNAL.index("fake:cleanup:wait")


def test_error_cleanup_provisioner_not_run_on_success(tmp_path: Path) -> None:
    go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "error-cleanup-provisioner": {"type": "fake", "label": "rescue"},
        },
    )
    assert "fake:rescue:provision:1" not in fakes.JOURNAL


def test_run_cleanup_provisioner_keeps_machine_but_runs_rescue(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "builders": [{"type": "fake", "fail_step": "finish"}],
            "error-cleanup-provisioner": {"type": "fake", "label": "rescue"},
        },
        on_error=OnError.RUN_CLEANUP_PROVISIONER,
    )
    assert "fake:rescue:provision:1" in fakes.JOURNAL
    assert "fake:cleanup:create" not in fakes.JOURNAL


def test_max_retries_reports_the_last_error(tmp_path: Path) -> None:
    results, sink = go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "provisioners": [{"type": "fake", "fail_times": 5, "max_retries": "2"}],
        },
    )
    assert "attempt 3 failed" in str(results["fake"].error)
    errors = sink.texts(ErrorMessage)
    assert 'Provisioner failed with "p attempt 1 failed", retrying with 2 trie(s) left' in errors
    assert "retry limit reached." in errors


def test_max_retries_succeeds_on_a_later_attempt(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "provisioners": [{"type": "fake", "fail_times": 1, "max_retries": 1}],
        },
    )
    assert results["fake"].error is None
    assert fakes.FakeProvisioner.attempts["fake:p"] == 2


def test_timeout_applies_even_with_pause_before(tmp_path: Path) -> None:
    started = time.monotonic()
    results, sink = go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "provisioners": [
                {"type": "fake", "sleep": "30s", "pause_before": "100ms", "timeout": "300ms"}
            ],
        },
    )
    assert time.monotonic() - started < 10
    assert "timed out after 300ms" in str(results["fake"].error)
    assert "Pausing 100ms before the next provisioner..." in sink.texts(Say)


def test_only_except_on_provisioners_use_raw_builder_names(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "variables": {"suffix": "x"},
            "builders": [
                {"type": "fake", "name": "a-{{user `suffix`}}"},
                {"type": "fake", "name": "b"},
            ],
            "provisioners": [
                {"type": "fake", "label": "only-a", "only": ["a-*"]},
                {"type": "fake", "label": "not-b", "except": ["b"]},
            ],
        },
    )
    assert set(results) == {"a-x", "b"}
    assert "a-x:only-a:provision:1" in fakes.JOURNAL and "a-x:not-b:provision:1" in fakes.JOURNAL
    assert not [j for j in fakes.JOURNAL if j.startswith("b:") and "provision" in j]


def test_cli_only_and_except_take_globs(tmp_path: Path) -> None:
    data = {"builders": [{"type": "fake", "name": n} for n in ("web-1", "web-2", "db")]}
    results, _ = go(tmp_path, data, only=["web-*"], except_=["*-2"])
    assert set(results) == {"web-1"}


def test_override_per_build(tmp_path: Path) -> None:
    go(
        tmp_path,
        {
            "builders": [{"type": "fake", "name": "a"}, {"type": "fake", "name": "b"}],
            "provisioners": [{"type": "fake", "label": "x", "override": {"b": {"label": "y"}}}],
        },
    )
    assert "a:x:provision:1" in fakes.JOURNAL and "b:y:provision:1" in fakes.JOURNAL


def test_build_data_reaches_provisioners_at_run_time(tmp_path: Path) -> None:
    _, sink = go(
        tmp_path,
        {
            "builders": [{"type": "fake", "artifact_id": "img-7"}],
            "provisioners": [{"type": "fake", "say": "id={{build `ID`}} name={{build_name}}"}],
        },
    )
    assert "id=img-7 name=fake" in sink.texts(Say)


def test_secret_build_data_is_masked(tmp_path: Path) -> None:
    _, sink = go(
        tmp_path,
        {
            "builders": [{"type": "fake", "password": "s3cr3t-pw"}],
            "provisioners": [{"type": "fake", "say": "pw={{build `Password`}}"}],
        },
    )
    texts = " ".join(sink.texts())
    assert "s3cr3t-pw" not in texts and "pw=<sensitive>" in texts


# -------------------------------------------------------------- post-processor artifact flow (§8.5)
def ids(results: dict[str, Any]) -> list[str]:
    return [a.id for a in results["fake"].artifacts]


def destroyed() -> list[str]:
    return [j.split(":destroy:")[1] for j in fakes.JOURNAL if ":destroy:" in j]


def test_no_post_processors_keeps_the_builder_artifact(tmp_path: Path) -> None:
    results, _ = go(tmp_path, {"builders": [{"type": "fake"}]})
    assert ids(results) == ["fake-id"] and destroyed() == []


def test_non_keeping_post_processor_destroys_input(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path, {"builders": [{"type": "fake"}], "post-processors": [pp("c", keep=False)]}
    )
    assert ids(results) == ["c(fake-id)"]
    assert destroyed() == ["fake-id"]


def test_keep_input_artifact_true_keeps_it(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "post-processors": [pp("c", keep=False, keep_input_artifact=True)],
        },
    )
    assert ids(results) == ["fake-id", "c(fake-id)"] and destroyed() == []


def test_force_keep_wins_over_user_false(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "post-processors": [pp("m", keep=True, force=True, keep_input_artifact=False)],
        },
    )
    assert ids(results) == ["fake-id", "m(fake-id)"]


def test_chain_passes_artifacts_along_and_destroys_intermediates(tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "builders": [{"type": "fake"}],
            "post-processors": [[pp("a", keep=False), pp("b", keep=False)]],
        },
    )
    assert ids(results) == ["b(a(fake-id))"]
    assert destroyed() == ["a(fake-id)", "fake-id"]


def test_failing_first_post_processor_destroys_builder_artifact_and_fails_build(
    tmp_path: Path,
) -> None:
    results, _ = go(
        tmp_path, {"builders": [{"type": "fake"}], "post-processors": [pp("x", fail=True)]}
    )
    assert "Post-processor failed: x failed on purpose" in str(results["fake"].error)
    assert destroyed() == ["fake-id"]


def test_pp_only_skips_one_element_and_cli_except_cuts_the_chain(tmp_path: Path) -> None:
    data = {
        "builders": [{"type": "fake"}],
        "post-processors": [[pp("a"), {**pp("b"), "only": ["nope*"]}, pp("c")]],
    }
    with pytest.raises(ConfigErrors, match="'only' specified builder 'nope\\*' not found"):
        go(tmp_path, data)
    data["post-processors"][0][1]["only"] = ["other"]
    data["builders"].append({"type": "fake", "name": "other"})
    results, _ = go(tmp_path, data, only=["fake"])
    assert ids(results) == ["fake-id", "a(fake-id)", "c(a(fake-id))"]
    fakes.JOURNAL.clear()
    named = {
        "builders": [{"type": "fake"}],
        "post-processors": [[pp("a"), {**pp("b"), "name": "cut"}, pp("c")]],
    }
    results, _ = go(tmp_path, named, except_=["cut"])
    assert ids(results) == ["fake-id", "a(fake-id)"]


# -------------------------------------------------------------- parallelism and cancellation
def test_builds_run_in_parallel(tmp_path: Path) -> None:
    data = {"builders": [{"type": "fake", "name": f"b{i}", "sleep": "400ms"} for i in range(4)]}
    started = time.monotonic()
    results, _ = go(tmp_path, data)
    assert all(r.error is None for r in results.values())
    assert time.monotonic() - started < 1.5  # four 0.4 s builds overlapped


def test_parallel_builds_one_runs_in_sorted_order(tmp_path: Path) -> None:
    data = {"builders": [{"type": "fake", "name": n} for n in ("c", "a", "b")]}
    go(tmp_path, data, parallel_builds=1)
    firsts = [j.split(":")[0] for j in fakes.JOURNAL if j.endswith(":run:create")]
    assert firsts == ["a", "b", "c"]


def test_one_failed_build_does_not_stop_the_others(tmp_path: Path) -> None:
    data = {
        "builders": [
            {"type": "fake", "name": "bad", "fail_step": "create"},
            {"type": "fake", "name": "good"},
        ]
    }
    results, sink = go(tmp_path, data)
    assert results["bad"].error is not None and results["good"].error is None
    summary = [e for e in sink.events if isinstance(e, RunFinished)][0]
    assert [n for n, _ in summary.errors] == ["bad"]


def test_cancel_stops_builds_within_a_second_and_cleans_up(tmp_path: Path) -> None:
    cancel = builder.CancelToken()
    path = write_template(tmp_path, {"builders": [{"type": "fake", "sleep": "60s"}]})
    threading.Timer(0.3, cancel.cancel).start()
    started = time.monotonic()
    report = builder.build(str(path), cancel=cancel)
    assert time.monotonic() - started < 1.5
    assert report.results["fake"].cancelled
    assert fakes.JOURNAL[-2:] == ["fake:cleanup:wait", "fake:cleanup:create"]


def test_library_build_returns_artifact_objects(tmp_path: Path) -> None:
    path = write_template(tmp_path, {"builders": [{"type": "fake", "artifact_id": "lib-1"}]})
    sink = RecordingSink()
    report = builder.build(str(path), sink=sink)
    assert report.ok
    [art] = report.artifacts["fake"]
    assert isinstance(art, builder.Artifact) and art.id == "lib-1" and art.builder_id == "test.fake"


def test_public_api_is_pinned() -> None:
    assert builder.__all__ == sorted(builder.__all__)
    for name in builder.__all__:
        assert getattr(builder, name) is not None


def test_on_error_ask_retry_then_abort(tmp_path: Path) -> None:
    path = write_template(tmp_path, {"builders": [{"type": "fake", "fail_step": "wait"}]})
    sink = RecordingSink(answers=["r", "a"])
    report = builder.build(str(path), sink=sink, on_error="ask")
    assert report.results["fake"].error is not None
    assert fakes.JOURNAL.count("fake:run:wait") == 2  # retried once
    # the failed step is cleaned up before it runs again; after the abort nothing else is
    assert [j for j in fakes.JOURNAL if ":wait" in j or ":cleanup:" in j] == [
        "fake:run:wait",
        "fake:cleanup:wait",
        "fake:run:wait",
    ]
    assert "[c] Clean up and exit, [a] abort without cleanup, or [r] retry step" in sink.prompts[0]


def test_on_error_ask_without_a_terminal_cleans_up(tmp_path: Path) -> None:
    path = write_template(tmp_path, {"builders": [{"type": "fake", "fail_step": "wait"}]})
    builder.build(str(path), sink=RecordingSink(), on_error="ask")
    assert fakes.JOURNAL[-2:] == ["fake:cleanup:wait", "fake:cleanup:create"]


def test_debug_pauses_after_each_step_and_before_each_cleanup(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        {"builders": [{"type": "fake"}], "provisioners": [{"type": "fake"}]},
    )
    sink = RecordingSink()
    report = builder.build(str(path), sink=sink, debug=True)
    assert report.ok
    assert "Pausing after run of step 'create'. Press enter to continue." in sink.prompts
    assert "Pausing before cleanup of step 'create'. Press enter to continue." in sink.prompts
    assert any(p.startswith("Pausing before the next provisioner") for p in sink.prompts)

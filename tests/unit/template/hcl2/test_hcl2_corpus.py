"""The corpus: HCL2 templates written for these tests, one per construct, each beside the
evaluated template it must give (`NAME.expected.json`).

To add a case, write `corpus/NAME.pkr.hcl`, run this file with WRITE_HCL2_EXPECTED=1 to
write its `.expected.json`, and read that file before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from builder.template.hcl2 import Hcl2Template, load

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.pkr.hcl"))


def evaluated(t: Hcl2Template) -> dict[str, Any]:
    out: dict[str, Any] = {
        "builders": [{"name": b.name, "type": b.type, "config": b.config} for b in t.builders],
        "provisioners": [
            {"type": p.type, "only": p.only, "config": p.config, "pause_before": p.pause_before,
             "timeout": p.timeout, "max_retries": p.max_retries}
            for p in t.provisioners
        ],
        "post_processors": [
            [{"type": p.type, "name": p.name, "only": p.only, "config": p.config,
              "keep_input_artifact": p.keep_input_artifact} for p in chain]
            for chain in t.post_processors
        ],
        "variables": {n: v.default for n, v in t.variables.items()},
        "sensitive": t.sensitive_variables,
    }  # fmt: skip
    ecp = t.error_cleanup_provisioner
    if ecp is not None:
        out["error_cleanup_provisioner"] = {
            "type": ecp.type,
            "only": ecp.only,
            "config": ecp.config,
        }
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_corpus_template_evaluates_as_expected(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    expected_path = path.with_name(path.name.replace(".pkr.hcl", ".expected.json"))
    got = evaluated(load(path.name, environ={"PYBUILD_CORPUS_HOME": "/home/corpus"}))
    got = json.loads(json.dumps(got))
    if os.environ.get("WRITE_HCL2_EXPECTED"):
        expected_path.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(expected_path.read_text())

"""The README's library example runs as written (from a copy of the repository's examples)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_library_example_in_readme_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Library API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README lost its library example"
    shutil.copytree(ROOT / "examples" / "null", tmp_path / "examples" / "null")
    r = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "[local-output-null] Running local shell script:" in r.stdout
    assert "local-output-null packer.post-processor.compress" in r.stdout
    assert r.stdout.rstrip().endswith("True {}")
    assert (tmp_path / "output-null" / "motd.tar.gz").exists()

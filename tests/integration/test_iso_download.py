"""ISO downloads against a real HTTP server on 127.0.0.1 (stdlib, threaded, started here).

The server honours Range, counts every request, and can be told to cut a response after
N bytes, answer a status instead, or hold a body until the test lets it go; it serves a
few MB of random bytes. Nothing else is needed, so nothing is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from builder.common.iso import ISOConfig, StepDownload
from builder.common.iso.checksum import Checksum
from builder.common.iso.download import DownloadError, cache_target, download
from builder.common.run import BuildRun
from builder.errors import BuildCancelled, BuildError
from builder.events import Progress, Say
from builder.ledger import BuildLedger, Ledger
from builder.leftovers import cleanup
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from builder.ui import Ui

ROOT = Path(__file__).resolve().parents[2]
SIZE = 3 * 1024 * 1024 + 12345
DATA = os.urandom(SIZE)
SHA256 = hashlib.sha256(DATA).hexdigest()
WAIT = 30.0  # a deadline for what the test waits on, never an assertion on time


# ----------------------------------------------------------------------------- the server
@dataclass
class Request:
    method: str
    path: str
    range: str
    authorization: str


@dataclass
class Site:
    """What the server serves and what it has seen."""

    files: dict[str, bytes] = field(default_factory=dict)
    # per path, what the next GETs do: ("cut", n) sends n bytes then closes, ("status", n)
    script: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    ranges: bool = True  # honour Range and say Accept-Ranges: bytes
    user: str = ""  # "name:password" required when set
    gate: threading.Event = field(default_factory=threading.Event)  # bodies wait for it
    sending: threading.Event = field(default_factory=threading.Event)  # a body has begun
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def gets(self, path: str = "/a.iso") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == "GET" and r.path == path]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: Site

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        site = self.site
        auth = self.headers.get("Authorization", "")
        with site.lock:
            site.requests.append(
                Request(self.command, self.path, self.headers.get("Range", ""), auth)
            )
            action = site.script.get(self.path, []).pop(0) if site.script.get(self.path) else None
        if site.user and auth != "Basic " + base64.b64encode(site.user.encode()).decode():
            return self._status(401)
        if self.path in site.redirects:
            self.send_response(302)
            self.send_header("Location", site.redirects[self.path])
            self.send_header("Content-Length", "0")
            return self.end_headers()
        data = site.files.get(self.path)
        if data is None:
            return self._status(404)
        if action is not None and action[0] == "status":
            return self._status(action[1])
        start = 0
        wanted = self.headers.get("Range", "")
        if site.ranges and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes=") : -1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                return self.end_headers()
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        if site.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if body:
            limit = action[1] if action is not None and action[0] == "cut" else None
            self._body(data[start:], limit)

    def _body(self, data: bytes, limit: int | None) -> None:
        sent, site = 0, self.site
        end = len(data) if limit is None else limit
        while sent < end:
            chunk = data[sent : min(end, sent + 65536)]
            try:
                self.wfile.write(chunk)
                self.wfile.flush()
            except OSError:
                return  # the client went away
            sent += len(chunk)
            site.sending.set()
            site.gate.wait(WAIT)
        if limit is not None:  # cut: close the connection mid-body
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class Server:
    site: Site
    port: int

    def url(self, path: str = "/a.iso") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    site = Site(files={"/a.iso": DATA})
    handler = type("BoundHandler", (Handler,), {"site": site})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(site, httpd.server_address[1])
    finally:
        site.gate.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def refused() -> str:
    """A URL on a loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/a.iso"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cache"
    monkeypatch.setenv("PACKER_CACHE_DIR", str(path))
    return path


@dataclass
class Fetch:
    path: str
    sink: RecordingSink
    ledger: BuildLedger

    def says(self) -> list[str]:
        return self.sink.texts(Say)

    def resources(self) -> list[tuple[str, str, str]]:
        return [(r.ref, r.name, r.state) for r in self.ledger._resources]


def fetch(urls: list[str], checksum: str, **kw: Any) -> Fetch:
    sink = kw.pop("sink", None) or RecordingSink()
    ledger = kw.pop("ledger", None) or Ledger.memory("test").build("b")
    path = download(
        urls, checksum, ui=Ui(sink, "b"), cancel=kw.pop("cancel", CancelToken()),
        resources=ledger, **kw,
    )  # fmt: skip
    return Fetch(path, sink, ledger)


def target(checksum: Checksum | None, url: str = "") -> str:
    return cache_target(url, checksum)


def wait_for(what: Callable[[], bool], label: str) -> None:
    deadline = time.monotonic() + WAIT
    while not what():
        assert time.monotonic() < deadline, f"gave up waiting for {label}"
        time.sleep(0.01)


# ----------------------------------------------------------------------------- checksums
@pytest.mark.parametrize(
    "form",
    ["sha256:{sha256}", "sha512:{sha512}", "sha1:{sha1}", "md5:{md5}", "{SHA256}", "{md5}"],
)
def test_each_checksum_form(form: str, server: Server, cache: Path) -> None:
    digests = {k: hashlib.new(k, DATA).hexdigest() for k in ("md5", "sha1", "sha256", "sha512")}
    text = form.format(SHA256=digests["sha256"].upper(), **digests)
    kind = form.split(":")[0] if ":" in form else ("sha256" if "SHA256" in form else "md5")
    got = fetch([server.url()], text)
    want = cache_target(server.url(), Checksum(kind, digests[kind]))
    assert got.path == want and Path(want).read_bytes() == DATA
    assert not Path(want + ".part").exists()
    assert len(server.site.gets()) == 1
    shown = f"{server.url()}?checksum={kind}%3A{digests[kind]}"
    assert got.says() == [
        "Retrieving ISO",
        f"Trying {server.url()}",
        f"Trying {shown}",
        f"{shown} => {want}",
    ]
    progress = [e for e in got.sink.events if isinstance(e, Progress)]
    assert progress and progress[-1] == Progress("b", "a.iso", SIZE, SIZE)
    # the cache's own are recorded as kept before they exist; only the .part is removable
    assert got.resources() == [
        ("local.dir", str(cache), "kept"),
        ("local.file", want + ".lock", "kept"),
        ("local.file", want + ".part", "released"),
        ("local.file", want, "kept"),
    ]


def test_checksum_none_names_the_file_by_its_url(server: Server, cache: Path) -> None:
    got = fetch([server.url()], "none")
    assert got.path == cache_target(server.url(), None)
    assert Path(got.path).read_bytes() == DATA
    assert f"{server.url()} => {got.path}" in got.says()


@pytest.mark.parametrize(
    "sums",
    [
        f"{'0' * 64}  other.iso\n{SHA256}  a.iso\n",
        f"SHA256 (other.iso) = {'0' * 64}\nSHA256 (a.iso) = {SHA256}\n",
    ],
    ids=["gnu", "bsd"],
)
def test_a_checksum_file_over_http(sums: str, server: Server, cache: Path) -> None:
    server.site.files["/SHA256SUMS"] = sums.encode()
    got = fetch([server.url()], f"file:{server.url('/SHA256SUMS')}")
    # named from the checksum it resolved to, as packer does once Prepare has read the file
    assert got.path == target(Checksum("sha256", SHA256))
    assert Path(got.path).read_bytes() == DATA


def test_a_checksum_file_without_the_iso(server: Server, cache: Path) -> None:
    server.site.files["/SHA256SUMS"] = f"{SHA256}  other.iso\n".encode()
    sums = server.url("/SHA256SUMS")
    with pytest.raises(BuildError) as info:
        fetch([server.url()], f"file:{sums}")
    assert str(info.value) == f'no checksum found in: {sums} in "file:{sums}"'
    assert server.site.gets() == []


def test_a_checksum_file_that_cannot_be_fetched(server: Server, cache: Path) -> None:
    sums = server.url("/MISSING")
    with pytest.raises(BuildError) as info:
        fetch([server.url()], f"file:{sums}")
    assert str(info.value) == (
        f'Error downloading checksum file: bad response code: 404 in "file:{sums}"'
    )


def test_a_local_checksum_file(server: Server, cache: Path, tmp_path: Path) -> None:
    (tmp_path / "sums.txt").write_text(f"{SHA256} *a.iso\n")
    assert Path(fetch([server.url()], "file:./sums.txt").path).read_bytes() == DATA


# ----------------------------------------------------------------------------- mirrors
def test_mirror_fallback(server: Server, cache: Path, refused: str) -> None:
    got = fetch([server.url("/nope.iso"), refused, server.url()], SHA256)
    assert Path(got.path).read_bytes() == DATA
    says = got.says()
    assert "Download failed bad response code: 404" in says
    port = refused.split(":")[2].split("/")[0]
    assert f"Download failed cannot connect to 127.0.0.1:{port}: connection refused" in says
    assert [r.path for r in server.site.requests] == ["/nope.iso", "/a.iso"]


def test_every_url_failing_is_listed(server: Server, cache: Path, refused: str) -> None:
    server.site.script["/a.iso"] = [("status", 503)]
    urls = [server.url("/nope.iso"), refused, server.url()]
    with pytest.raises(DownloadError) as info:
        fetch(urls, SHA256)
    port = refused.split(":")[2].split("/")[0]
    assert info.value.failures == [
        (urls[0], "bad response code: 404"),
        (urls[1], f"cannot connect to 127.0.0.1:{port}: connection refused"),
        (urls[2], "bad response code: 503"),
    ]
    assert str(info.value).startswith("error downloading ISO:\n  * ")
    assert not any(p.name.endswith(".part") for p in cache.iterdir())


def test_redirects_are_followed(server: Server, cache: Path) -> None:
    server.site.redirects["/latest.iso"] = "/a.iso"
    assert Path(fetch([server.url("/latest.iso")], SHA256).path).read_bytes() == DATA


def test_a_password_in_the_url_is_sent_and_never_shown(server: Server, cache: Path) -> None:
    server.site.user = "iso:s3cret-pw"
    url = f"http://iso:s3cret-pw@127.0.0.1:{server.port}/a.iso"
    got = fetch([url], SHA256)
    assert Path(got.path).read_bytes() == DATA
    assert server.site.gets()[0].authorization.startswith("Basic ")
    texts = [repr(e) for e in got.sink.events] + [repr(got.resources())]
    assert not any("s3cret-pw" in t for t in texts)
    assert f"Trying http://iso:xxxxx@127.0.0.1:{server.port}/a.iso" in got.says()


# ----------------------------------------------------------------------------- resume
def test_resume_after_a_cut(server: Server, cache: Path) -> None:
    server.site.script["/a.iso"] = [("cut", 1_000_000)]
    got = fetch([server.url()], f"sha256:{SHA256}")
    assert Path(got.path).read_bytes() == DATA
    assert [r.range for r in server.site.gets()] == ["", "bytes=1000000-"]
    assert any(s.startswith("Download interrupted at 1000000 bytes") for s in got.says())


def test_a_cut_resumes_from_the_next_mirror(server: Server, cache: Path) -> None:
    server.site.files["/mirror2/a.iso"] = DATA
    server.site.script["/a.iso"] = [("cut", 700_000), ("status", 500)]
    got = fetch([server.url(), server.url("/mirror2/a.iso")], SHA256)
    assert Path(got.path).read_bytes() == DATA
    assert [r.range for r in server.site.gets("/mirror2/a.iso")] == ["bytes=700000-"]


def test_resume_from_a_part_left_by_a_killed_build(server: Server, cache: Path) -> None:
    want = target(Checksum("sha256", SHA256))
    cache.mkdir()
    Path(want + ".part").write_bytes(DATA[:1_500_000])
    got = fetch([server.url()], SHA256)
    assert Path(got.path).read_bytes() == DATA
    assert [r.range for r in server.site.gets()] == ["bytes=1500000-"]


def test_a_stale_part_is_downloaded_again(server: Server, cache: Path) -> None:
    want = target(Checksum("sha256", SHA256))
    cache.mkdir()
    Path(want + ".part").write_bytes(os.urandom(1_000_000))
    got = fetch([server.url()], SHA256)
    assert Path(got.path).read_bytes() == DATA
    assert [r.range for r in server.site.gets()] == ["bytes=1000000-", ""]
    assert "The resumed download did not verify; downloading it again from the start" in (
        got.says()
    )


def test_a_server_that_ignores_range(server: Server, cache: Path) -> None:
    server.site.ranges = False
    want = target(Checksum("sha256", SHA256))
    cache.mkdir()
    Path(want + ".part").write_bytes(DATA[:1_000_000])
    got = fetch([server.url()], SHA256)
    assert Path(got.path).read_bytes() == DATA  # not the first MB twice
    assert [r.range for r in server.site.gets()] == ["bytes=1000000-"]


def test_a_complete_part_is_not_fetched_again(server: Server, cache: Path) -> None:
    want = target(Checksum("sha256", SHA256))
    cache.mkdir()
    Path(want + ".part").write_bytes(DATA)
    assert Path(fetch([server.url()], SHA256).path).read_bytes() == DATA
    assert [r.range for r in server.site.gets()] == [f"bytes={SIZE}-"]  # answered 416


# ----------------------------------------------------------------------------- the cache
def test_the_cache_is_reused_without_a_request(server: Server, cache: Path) -> None:
    first = fetch([server.url()], SHA256)
    again = fetch([server.url()], SHA256)
    assert again.path == first.path and len(server.site.gets()) == 1
    assert again.resources() == []  # nothing created
    os.utime(first.path)  # not the file this process verified: hashed again, still no request
    fetch([server.url()], SHA256)
    assert len(server.site.gets()) == 1


def test_a_corrupt_cache_file_is_replaced(server: Server, cache: Path) -> None:
    path = Path(fetch([server.url()], SHA256).path)
    broken = bytearray(DATA)
    broken[100] ^= 0xFF
    path.write_bytes(bytes(broken))
    assert Path(fetch([server.url()], SHA256).path).read_bytes() == DATA
    assert len(server.site.gets()) == 2


def test_two_builds_in_parallel_make_one_get(server: Server, cache: Path) -> None:
    site = server.site
    site.gate.clear()
    results: dict[str, Fetch | BaseException] = {}
    sinks = {"a": RecordingSink(), "b": RecordingSink()}

    def build(name: str) -> None:
        try:
            results[name] = fetch([server.url()], SHA256, sink=sinks[name])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc

    first = threading.Thread(target=build, args=("a",))
    first.start()
    wait_for(site.sending.is_set, "the first download to begin")
    second = threading.Thread(target=build, args=("b",))
    second.start()
    wait_for(
        lambda: any("Waiting for another build" in t for t in sinks["b"].texts()),
        "the second build to wait",
    )
    site.gate.set()
    first.join(WAIT)
    second.join(WAIT)
    a, b = results["a"], results["b"]
    assert isinstance(a, Fetch) and isinstance(b, Fetch), results
    assert a.path == b.path and Path(a.path).read_bytes() == DATA
    assert len(site.gets()) == 1
    assert b.resources() == []


CHILD = """
import json, os, sys
from builder.common.iso.download import download
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from builder.ui import Ui
args = json.loads(sys.argv[1])
ledger = Ledger(args["run"])
if args.get("state"):
    ledger.start(directory=__import__("pathlib").Path(args["state"]))
print(download(args["urls"], args["checksum"], ui=Ui(RecordingSink(), "child"),
               cancel=CancelToken(), resources=ledger.build("child")), flush=True)
ledger.close()
"""


def child(args: dict[str, Any], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_make_one_get(server: Server, cache: Path) -> None:
    site = server.site
    site.gate.clear()
    proc = child({"run": "other", "urls": [server.url()], "checksum": SHA256})
    try:
        wait_for(site.sending.is_set, "the other process to begin its download")
        sink = RecordingSink()
        mine: dict[str, Fetch] = {}
        here = threading.Thread(
            target=lambda: mine.setdefault("f", fetch([server.url()], SHA256, sink=sink))
        )
        here.start()
        wait_for(
            lambda: any("Waiting for another process" in t for t in sink.texts()),
            "this process to wait for the other",
        )
        site.gate.set()
        out, err = proc.communicate(timeout=WAIT)
        here.join(WAIT)
    finally:
        site.gate.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == mine["f"].path and Path(out.strip()).read_bytes() == DATA
    assert len(site.gets()) == 1


@pytest.mark.parametrize("point", ["created:local.file", "download:part"])
def test_a_killed_download_is_removed_by_cleanup(
    point: str, server: Server, cache: Path, tmp_path: Path
) -> None:
    """Killed once the .part exists (empty, or with data): cleanup removes it, not the cache."""
    state = tmp_path / "state"
    proc = child(
        {"run": "killed", "state": str(state), "urls": [server.url()], "checksum": SHA256},
        env={"PYBUILD_FAULT": f"kill@{point}"},
    )
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL, err
    want = target(Checksum("sha256", SHA256))
    assert Path(want + ".part").exists()
    [ledger] = state.glob("*.jsonl")
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    fates: dict[tuple[str, str], list[str]] = {
        (r["kind"], r.get("name", "")): [] for r in records if r["rec"] == "create"
    }
    rids = {r["rid"]: (r["kind"], r.get("name", "")) for r in records if r["rec"] == "create"}
    for r in records:
        if r.get("rid") in rids:
            fates[rids[r["rid"]]].append(r["rec"])
    assert fates[("dir", str(cache))] == ["create", "kept"]
    assert fates[("file", want + ".lock")] == ["create", "kept"]
    assert fates[("file", want + ".part")][0] == "create"
    report = cleanup(state_dir=str(state))
    assert [(line.ref, line.what.split(" ")[0], line.outcome) for line in report.lines] == [
        ("local.file", want + ".part", "removed")
    ]
    assert not Path(want + ".part").exists()
    assert Path(want + ".lock").exists() and cache.is_dir()  # the cache's, kept
    assert Path(fetch([server.url()], SHA256).path).read_bytes() == DATA
    assert [r.range for r in server.site.gets()][-1] == ""  # started over


# ----------------------------------------------------------------------------- failures
def test_a_checksum_mismatch_names_expected_and_actual(server: Server, cache: Path) -> None:
    wrong = "0" * 64
    want = target(Checksum("sha256", wrong))
    sink = RecordingSink()
    ledger = Ledger.memory().build("b")
    with pytest.raises(DownloadError) as info:
        fetch([server.url()], f"sha256:{wrong}", sink=sink, ledger=ledger)
    [(url, reason)] = info.value.failures
    assert url == server.url()
    assert reason == (
        f"Checksums did not match for {want}.\nExpected: sha256:{wrong}\nGot: sha256:{SHA256}"
    )
    assert f"Checksum did not match, removing {want}" in sink.texts(Say)
    assert not Path(want).exists() and not Path(want + ".part").exists()
    assert [r.state for r in ledger._resources if r.name == want + ".part"] == ["released"]


def test_cancel_stops_a_stalled_download(server: Server, cache: Path) -> None:
    site = server.site
    site.gate.clear()
    cancel = CancelToken()
    ledger = Ledger.memory().build("b")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            fetch([server.url()], SHA256, cancel=cancel, ledger=ledger)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(site.sending.is_set, "the download to begin")
    cancel.cancel()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], BuildCancelled)
    part = target(Checksum("sha256", SHA256)) + ".part"
    assert not Path(part).exists()
    assert not ledger.outstanding()


# ----------------------------------------------------------------------------- other sources
def test_iso_skip_cache_gives_the_url(server: Server, cache: Path) -> None:
    got = fetch([server.url("/nope.iso"), server.url()], SHA256, skip_cache=True)
    assert got.path == server.url()
    assert [(r.method, r.path) for r in server.site.requests] == [
        ("HEAD", "/nope.iso"),
        ("HEAD", "/a.iso"),
    ]
    assert not cache.exists()


def test_iso_skip_cache_needs_byte_ranges(server: Server, cache: Path) -> None:
    server.site.ranges = False
    with pytest.raises(BuildError) as info:
        fetch([server.url()], SHA256, skip_cache=True)
    assert str(info.value) == (
        "No byte serving support. The HTTP server must support Accept-Ranges=bytes\n"
        f"  * {server.url()}: the server does not send Accept-Ranges: bytes"
    )


def test_local_files_are_verified_and_used_in_place(cache: Path, tmp_path: Path) -> None:
    iso = tmp_path / "local.iso"
    iso.write_bytes(DATA)
    assert fetch([f"file://{iso}"], SHA256).path == str(iso)
    assert fetch(["local.iso"], f"md5:{hashlib.md5(DATA).hexdigest()}").path == str(iso)
    assert not cache.exists()
    sink = RecordingSink()
    with pytest.raises(DownloadError) as info:
        fetch([str(iso)], "sha256:" + "1" * 64, sink=sink)
    assert info.value.failures[0][1].startswith(f"Checksums did not match for {iso}.")
    assert f"Checksum did not match for {iso}" in sink.texts(Say) and iso.exists()
    with pytest.raises(DownloadError) as info:
        fetch([str(tmp_path / "missing.iso"), str(tmp_path)], "none")
    assert [reason for _, reason in info.value.failures] == [
        f"source path error: {tmp_path / 'missing.iso'}: no such file",
        "source path must be a file",
    ]


def test_iso_target_path(server: Server, cache: Path, tmp_path: Path) -> None:
    got = fetch([server.url()], SHA256, target_path="isos/debian.iso")
    assert got.path == str(tmp_path / "isos" / "debian.iso")
    assert Path(got.path).read_bytes() == DATA
    assert not cache.exists()


@dataclass(kw_only=True)
class QemuLikeRun(BuildRun[ISOConfig]):
    iso_path: str = ""


def test_step_download_in_a_run(server: Server, cache: Path) -> None:
    from builder.components import PluginOptions
    from builder.template.funcs import RenderContext

    sink = RecordingSink()
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="t")
    run = QemuLikeRun(
        ui=Ui(sink, "b"),
        cancel=CancelToken(),
        hook=None,  # type: ignore[arg-type]
        options=PluginOptions(build_name="b", build_type="t", render=render),
        resources=Ledger.memory().build("b"),
        config=ISOConfig(iso_urls=[server.url("/nope.iso"), server.url()], iso_checksum=SHA256),
    )
    step = StepDownload()
    step.run(run)
    assert Path(run.iso_path).read_bytes() == DATA
    assert sink.texts(Say)[0] == "Retrieving ISO"
    step.cleanup(run)
    assert Path(cache_target(server.url(), Checksum("sha256", SHA256))).exists()

"""`pybuild plan`: what each build will do, from the prepared template alone.

Offline by construction: it prepares the builds as `validate` does (no socket, no SDK:
drivers open only in `run`), then asks each builder for its steps and what each step
creates (`plan_steps`, under the kinds the ledger records), each plugin for the files it
writes and what it creates, and walks the post-processor chains the way the engine will.
Resolved values are shown; `Secret` fields and sensitive variables are masked; values
only the run knows (`{{ build ... }}`, deferred options) are marked.

Formats: `text` (for people), `json` (schema `builder/schemas/plan-v1.schema.json`),
`github-matrix` (`strategy.matrix` for `fromJSON`) and `gitlab-matrix` (`parallel:matrix`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from builder.common.plan import RUNTIME, Creates, Writes
from builder.config import format_go_duration

if TYPE_CHECKING:
    from builder.components import Plugin
    from builder.engine import Build, Prepared
    from builder.redact import Redactor

PLAN_VERSION = 1
MASK = "<sensitive>"


# --------------------------------------------------------------------------- building
def make_plan(prepared: Prepared, force: bool | None = None) -> dict[str, Any]:
    """The plan of every prepared build, as the JSON document `-format=json` prints.

    `force`: whether the build will run with -force (default: the prepared options').
    """
    force = prepared.options.force if force is None else force
    redact = prepared.loaded.redactor
    template = prepared.loaded.template
    specs = {spec.name: spec for spec in template.builders}
    builds = []
    for build in prepared.builds:
        spec = specs.get(build.raw_name)
        keys = list(spec.config) if spec is not None else []
        builds.append(_build_plan(build, keys, force, redact))
    doc = {
        "plan_version": PLAN_VERSION,
        "template": os.path.abspath(template.path) if template.path else None,
        "run_id": RUNTIME,
        "force": force,
        "builds": builds,
    }
    return _masked(doc, redact)


def _build_plan(build: Build, keys: Sequence[str], force: bool, redact: Redactor) -> dict[str, Any]:
    builder = build.builder
    step_plans = builder.plan_steps()
    steps = None
    if step_plans is not None:
        steps = [{"name": n, "creates": [_creates(c) for c in cs]} for n, cs in step_plans]
    runs = type(builder).runs_provisioners
    provisioners = [
        _provisioner(i, run.spec, run.plugin, run.max_retries)
        for i, run in enumerate(build.provisioners if runs else [])
    ]
    cleanup = None
    if build.error_cleanup is not None and runs:
        run = build.error_cleanup
        cleanup = _provisioner(len(provisioners), run.spec, run.plugin, run.max_retries)
    chains, artifacts = _chains(build)
    writes = [w for w in builder.plan_writes()]
    for chain in build.chains:
        for pp in chain:
            writes.extend(pp.plugin.plan_writes())
    return {
        "name": build.name,
        "type": build.type,
        "settings": _settings(builder, keys),
        "runtime": _runtime_keys(builder, keys),
        "steps": steps,
        "communicator": _communicator(builder),
        "provisioners": provisioners,
        "error_cleanup_provisioner": cleanup,
        "post_processors": chains,
        "artifacts": artifacts,
        "files": [_file(w, force) for w in writes],
        "warnings": list(build.warnings),
    }


def _creates(c: Creates) -> dict[str, str]:
    out = {"resource": c.ref, "what": c.what}
    if c.name:
        out["name"] = c.name
    return out


def _file(w: Writes, force: bool) -> dict[str, Any]:
    exists = os.path.lexists(w.path)
    return {
        "path": w.path,
        "what": w.what,
        "mode": w.mode,
        "exists": exists,
        "needs_force": exists and w.mode == "refuse" and not force,
    }


def _settings(plugin: Plugin, keys: Sequence[str]) -> dict[str, Any]:
    """The options the template set, as the plugin will use them (secrets masked)."""
    cfg = plugin.config
    fields = type(cfg).model_fields
    secret_tops = {path[0] for path in cfg.secret_paths() if len(path) == 1}
    dumped = cfg.model_dump(mode="json")
    out: dict[str, Any] = {}
    for key in keys:
        if key not in fields:
            continue
        value = dumped.get(key)
        if key in type(cfg).deferred:  # rendered by the plugin at run time: render what we can
            value = _render_deferred(plugin, value)
        if key in secret_tops and value not in ("", None, [], {}):
            value = MASK
        out[key] = value
    for path in cfg.secret_paths():  # nested secrets (assume_role.token, ...)
        if len(path) > 1 and path[0] in out:
            _mask_path(out, path)
    return out


def _render_deferred(plugin: Plugin, value: Any) -> Any:
    """User variables and functions now; `{{ build ... }}` stays for the run to fill."""
    from builder.errors import PybuildError

    if isinstance(value, str):
        try:
            return plugin.options.render_text(value)
        except (PybuildError, ValueError):
            return value
    if isinstance(value, list):
        return [_render_deferred(plugin, v) for v in value]
    if isinstance(value, dict):
        return {k: _render_deferred(plugin, v) for k, v in value.items()}
    return value


def _mask_path(tree: Any, path: tuple[str, ...]) -> None:
    node = tree
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict) and node.get(path[-1]) not in (None, "", [], {}):
        node[path[-1]] = MASK


def _runtime_keys(plugin: Plugin, keys: Sequence[str]) -> list[str]:
    """Options whose value the run fills in (`{{ build ... }}`, deferred options)."""
    settings = _settings(plugin, keys)
    return sorted(k for k, v in settings.items() if _has_template(v))


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _communicator(builder: Plugin) -> dict[str, Any]:
    """How the build reaches its machine, from the builder's communicator options."""
    from builder.communicator.config import CommunicatorConfig

    cfg = builder.config
    if not isinstance(cfg, CommunicatorConfig):
        return {"type": "none"}
    kind = cfg.communicator
    if kind != "ssh":
        return {"type": kind}
    if cfg.ssh_private_key_file:
        auth = f"private key {cfg.ssh_private_key_file}"
    elif cfg.ssh_agent_auth:
        auth = "ssh agent"
    elif cfg.ssh_password:
        auth = f"password {MASK}"
    elif cfg.generates_key:
        auth = "temporary key pair made for the build"
    else:
        auth = "none given"
    out: dict[str, Any] = {
        "type": "ssh",
        "host": cfg.ssh_host or f"the machine's address {RUNTIME}",
        "port": cfg.ssh_port,
        "username": cfg.ssh_username,
        "auth": auth,
        "timeout": format_go_duration(cfg.ssh_timeout),
        "file_transfer": cfg.ssh_file_transfer_method,
    }
    if cfg.ssh_bastion_host:
        out["bastion"] = f"{cfg.bastion_username}@{cfg.ssh_bastion_host}:{cfg.ssh_bastion_port}"
    if cfg.ssh_proxy_host:
        out["proxy"] = f"socks5://{cfg.ssh_proxy_host}:{cfg.ssh_proxy_port}"
    return out


def _provisioner(index: int, spec: Any, plugin: Plugin, retries: int) -> dict[str, Any]:
    keys = [k for k in spec.config if k not in ("type",)]
    for override in spec.override.values():
        keys.extend(k for k in override if k not in keys)
    return {
        "index": index,
        "type": spec.type,
        "pause_before": format_go_duration(spec.pause_before),
        "max_retries": retries,
        "timeout": format_go_duration(spec.timeout),
        "settings": _settings(plugin, keys),
        "runtime": _runtime_keys(plugin, keys),
        "creates": [_creates(c) for c in plugin.plan_creates()],
    }


def _chains(build: Build) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Each chain's post-processors and, as the engine decides it, which artifacts remain."""
    chains: list[list[dict[str, Any]]] = []
    survivors: list[str] = []
    keep_builder = not build.chains
    unknown = False
    for ci, chain in enumerate(build.chains):
        entries: list[dict[str, Any]] = []
        for i, run in enumerate(chain):
            spec, plugin = run.spec, run.plugin
            declared = type(plugin).keeps_input
            keeps: bool | None = None
            if declared is not None:
                keep, forced = declared
                keeps = keep
                if spec.keep_input_artifact is not None and not (
                    keep and forced and not spec.keep_input_artifact
                ):
                    keeps = spec.keep_input_artifact
            elif spec.keep_input_artifact is not None:
                keeps = spec.keep_input_artifact
            entry = {
                "chain": ci,
                "index": i,
                "type": spec.type,
                "name": spec.name,
                "keep_input_artifact": spec.keep_input_artifact,
                "keeps_input": keeps,
                "settings": _settings(plugin, [k for k in spec.config if k != "type"]),
                "creates": [_creates(c) for c in plugin.plan_creates()],
            }
            entries.append(entry)
            label = "the builder's artifact" if i == 0 else f"{chain[i - 1].spec.type}'s artifact"
            if keeps is None:
                unknown = True
            elif keeps:
                if i == 0:
                    keep_builder = True
                else:
                    survivors.append(f"chain {ci + 1}: {label}")
        chains.append(entries)
        survivors.append(f"chain {ci + 1}: {chain[-1].spec.type}'s artifact")
    if keep_builder:
        survivors.insert(0, "the builder's artifact")
    if unknown:
        survivors.append(f"others decided {RUNTIME}")
    return chains, survivors


def _masked(doc: Any, redact: Redactor) -> Any:
    """Every string through the redactor: sensitive variables never reach the plan."""
    if isinstance(doc, str):
        return redact(doc)
    if isinstance(doc, dict):
        return {k: _masked(v, redact) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_masked(v, redact) for v in doc]
    return doc


# --------------------------------------------------------------------------- formats
def render_json(plan: Mapping[str, Any]) -> str:
    return json.dumps(plan, indent=2) + "\n"


def render_github_matrix(plan: Mapping[str, Any]) -> str:
    """`{"include": [{"build": NAME, "type": T, "only": NAME}, ...]}` on one line."""
    include = [{"build": b["name"], "type": b["type"], "only": b["name"]} for b in plan["builds"]]
    return json.dumps({"include": include}, separators=(",", ":")) + "\n"


def render_gitlab_matrix(plan: Mapping[str, Any]) -> str:
    """A `parallel:` block (JSON is YAML): one job per build, `PYBUILD_ONLY` set."""
    matrix = [{"PYBUILD_ONLY": b["name"], "PYBUILD_TYPE": b["type"]} for b in plan["builds"]]
    return json.dumps({"parallel": {"matrix": matrix}}, indent=2) + "\n"


def render_text(plan: Mapping[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    for b in plan["builds"]:
        add(f"==> {b['name']} ({b['type']})")
        for w in b["warnings"]:
            add(f"    warning: {w}")
        if b["settings"]:
            add("    settings:")
            for key, value in b["settings"].items():
                mark = f" {RUNTIME}" if key in b["runtime"] else ""
                add(f"      {key} = {_show(value)}{mark}")
        if b["steps"] is None:
            add("    steps: not described by this builder")
        else:
            add("    steps:")
            for n, step in enumerate(b["steps"], 1):
                add(f"      {n:>2}. {step['name']}")
                for c in step["creates"]:
                    add(f"          creates {c['resource']}: {c['what']}")
        comm = b["communicator"]
        if comm["type"] == "ssh":
            add(
                f"    communicator: ssh {comm['username']}@{comm['host']}:{comm['port']}, "
                f"auth {comm['auth']}, timeout {comm['timeout']}, {comm['file_transfer']}"
            )
            for key in ("bastion", "proxy"):
                if key in comm:
                    add(f"      via {key} {comm[key]}")
        else:
            add(f"    communicator: {comm['type']}")
        _text_provisioners(b, add)
        _text_chains(b, add)
        if b["files"]:
            add("    writes:")
            for f in b["files"]:
                state = "exists" if f["exists"] else "new"
                note = ", -force needed" if f["needs_force"] else ""
                add(f"      {f['path']} ({f['what']}, {f['mode']}; {state}{note})")
        add("")
    count = len(plan["builds"])
    add(f"{count} build(s) planned; nothing was created. Run `pybuild build` to build them.")
    return "\n".join(lines) + "\n"


def _text_provisioners(b: Mapping[str, Any], add: Any) -> None:
    provs = list(b["provisioners"])
    if b["error_cleanup_provisioner"] is not None:
        provs.append({**b["error_cleanup_provisioner"], "error_cleanup": True})
    if not provs:
        add("    provisioners: none")
        return
    add("    provisioners:")
    for p in provs:
        extra = []
        if p["pause_before"] != "0s":
            extra.append(f"pause_before {p['pause_before']}")
        if p["max_retries"]:
            extra.append(f"max_retries {p['max_retries']}")
        if p["timeout"] != "0s":
            extra.append(f"timeout {p['timeout']}")
        label = "on error: " if p.get("error_cleanup") else f"{p['index'] + 1:>2}. "
        add(f"      {label}{p['type']}" + (f" ({', '.join(extra)})" if extra else ""))
        for key, value in p["settings"].items():
            mark = f" {RUNTIME}" if key in p["runtime"] else ""
            add(f"          {key} = {_show(value)}{mark}")


def _text_chains(b: Mapping[str, Any], add: Any) -> None:
    if not b["post_processors"]:
        add("    post-processors: none")
    else:
        add("    post-processors:")
        for chain in b["post_processors"]:
            parts = []
            for pp in chain:
                keeps = pp["keeps_input"]
                keep = {True: "keeps input", False: "drops input", None: "input: at run time"}
                parts.append(f"{pp['type']} [{keep[keeps]}]")
                for c in pp["creates"]:
                    parts[-1] += f" creates {c['resource']}"
            add(f"      chain {chain[0]['chain'] + 1}: " + " -> ".join(parts))
    add("    artifacts left: " + ("; ".join(b["artifacts"]) or "none"))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(", ", ": "))

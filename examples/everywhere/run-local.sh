#!/usr/bin/env bash
# Build examples/everywhere/template.json on this machine, against local stand-ins for every
# platform: a Docker engine, moto (EC2 + S3, with the suite's VM Import extension), the
# vSphere simulator, a small OpenStack (keystone, glance, nova, neutron API), qemu booting the
# project's test ISO, and sshd containers as the cloud machines. It uses the services the
# test suite uses, started the same way:
#   bash examples/everywhere/run-local.sh [WORKDIR]
# tests/testbed/setup.sh installs and starts the long-lived services (dockerd, OpenStack,
# the ISO; idempotent, about a minute when already installed); the everywhere integration
# test then starts moto, vcsim and the sshd hosts, writes the -var-file, runs one
# `pybuild build` of the template, checks every artifact on its own API and removes them.
# What the build printed is shown at the end (WORKDIR/.../build.log). Run as root on Debian.
# To build against your own accounts instead: `pybuild build -var-file=mine.json template.json`
# with the variables at the top of template.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/pybuild-everywhere.XXXXXX)}"
cd "$ROOT"
bash tests/testbed/setup.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
fi
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider --basetemp="$WORK" \
  "tests/integration/everywhere/test_everywhere.py::test_one_template_builds_all_five_platforms" \
  || status=$?
log="$(find "$WORK" -name build.log | head -n 1)"
[ -n "$log" ] && cat "$log"
echo "run-local: pytest exit $status; the build's output: $log"
exit "$status"

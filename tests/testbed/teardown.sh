#!/usr/bin/env bash
# Remove containers left behind by the integration tests (label pybuild-test=1).
# Leaves dockerd and the images alone.
set -euo pipefail
export DOCKER_HOST=unix:///var/run/docker.sock
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONFIG

docker_cli() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi
}

if ! docker_cli info >/dev/null 2>&1; then
  echo "[testbed] dockerd not answering on /var/run/docker.sock: nothing to remove"
  exit 0
fi
ids="$(docker_cli ps -aq --filter label=pybuild-test=1)"
if [ -z "$ids" ]; then
  echo "[testbed] no test containers left"
  exit 0
fi
echo "[testbed] removing $(echo "$ids" | wc -l) test container(s)"
# shellcheck disable=SC2086  # one id per word
docker_cli rm -f $ids >/dev/null

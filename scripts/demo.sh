#!/usr/bin/env bash
# The main job on the bundled example app: detect & lint it, build it into an image with boxwise's
# buildpacks on a real Debian base, run the image, call its web process over HTTP, inspect and gate it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/engine.sh
bash scripts/base-image.sh

app=examples/hello
tag=boxwise-demo/hello:latest
container=boxwise-demo-hello

echo "== boxwise detect $app"
boxwise detect "$app"

echo "== boxwise build $app --tag $tag"
boxwise build "$app" --base boxwise-python:bookworm --tag "$tag"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== docker run $tag (host network, PORT=$port)"
docker rm -f "$container" >/dev/null 2>&1 || true
docker run -d --name "$container" --network host -e PORT="$port" "$tag" >/dev/null
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
answer=""
for _ in $(seq 1 50); do
  if answer=$(python3 -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end='')" "http://127.0.0.1:$port/" 2>/dev/null); then
    break
  fi
  sleep 0.2
done
if [ -z "$answer" ]; then
  echo "demo: the web process did not answer; its log:" >&2
  docker logs "$container" >&2
  exit 1
fi
echo "GET http://127.0.0.1:$port/ -> $answer"

echo "== boxwise inspect docker://$tag"
boxwise inspect "docker://$tag"

echo "== boxwise gate docker://$tag (dive's CI rules; .dive-ci / [tool.boxwise.gate] when present)"
boxwise gate "docker://$tag"

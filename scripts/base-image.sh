#!/usr/bin/env bash
# Make the base image the tests, the demo and the bench build on: Debian bookworm minbase with
# python3, python3-venv and ca-certificates, imported into the engine as boxwise-python:bookworm.
#
# --plain makes the other base the app corpus (tests/corpus) builds on: the same minbase with only
# python3 and ca-certificates, imported as boxwise-plain:bookworm. No `python` link, no venv/ensurepip
# and no pip: what a plain Debian/Ubuntu base gives, so the buildpacks cannot lean on extras.
#
# --suite trixie makes the same images from Debian trixie (Python 3.13) instead of bookworm (Python 3.11):
# boxwise-python:trixie (or boxwise-plain:trixie with --plain). The tests serve both from a local
# registry as python:3.11-slim and python:3.13-slim, so that the base follows the app's Python version.
#
# The rootfs tar is cached (BOXWISE_BASE_CACHE, default /var/cache/boxwise as root, else
# $XDG_CACHE_HOME/boxwise), so debootstrap runs once per machine (~40 s); later runs only import it,
# and when the engine already has the image they do nothing at all.
#
#   bash scripts/base-image.sh [--plain] [--suite bookworm|trixie] [--force]   # --force: debootstrap again
set -euo pipefail

usage="usage: base-image.sh [--plain] [--suite bookworm|trixie] [--force]"
suite=bookworm
force=0
plain=0
while [ $# -gt 0 ]; do
  case $1 in
    --force) force=1 ;;
    --plain) plain=1 ;;
    --suite)
      [ $# -ge 2 ] || { echo "base-image: --suite needs a value ($usage)" >&2; exit 2; }
      suite=$2
      shift
      ;;
    --suite=*) suite=${1#--suite=} ;;
    *) echo "base-image: unknown option $1 ($usage)" >&2; exit 2 ;;
  esac
  shift
done
case $suite in
  bookworm | trixie) ;;
  *) echo "base-image: --suite $suite: not one of bookworm, trixie ($usage)" >&2; exit 2 ;;
esac
if [ $plain = 1 ]; then
  image=${BOXWISE_PLAIN_IMAGE:-boxwise-plain:$suite}
  packages=python3,ca-certificates
  flavour=-plain
else
  image=${BOXWISE_BASE_IMAGE:-boxwise-python:$suite}
  packages=python3,python3-venv,ca-certificates
  flavour=
fi

if [ "$(id -u)" = 0 ]; then
  cache=${BOXWISE_BASE_CACHE:-/var/cache/boxwise}
else
  cache=${BOXWISE_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/boxwise}
fi
# v2: the project base holds the run user. An image or cached rootfs of an older version is made again.
version=2
rootfs_tar=$cache/base-$suite$flavour-rootfs-v$version.tar

if [ $force = 0 ] && [ "$(docker image inspect --format '{{index .Config.Labels "io.boxwise.base-version"}}' "$image" 2>/dev/null)" = "$version" ]; then
  echo "base-image: $image already in the engine"
  exit 0
fi

# The mirror this machine's apt already uses (it may be a proxy or a local mirror); Debian's own
# otherwise.
mirror() {
  local uri
  uri=$(grep -hsE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if [ $force = 1 ] || [ ! -s "$rootfs_tar" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "base-image: debootstrap needs root; run this script as root once (it caches $rootfs_tar)" >&2
    exit 2
  fi
  command -v debootstrap >/dev/null || {
    echo "base-image: debootstrap is missing; run: apt-get install debootstrap" >&2
    exit 2
  }
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  url=$(mirror)
  echo "base-image: debootstrap --variant=minbase --include=$packages $suite from $url (about a minute, once per machine)"
  debootstrap --variant=minbase --include="$packages" \
    "$suite" "$work/root" "$url" >"$work/debootstrap.log" 2>&1 || {
    echo "base-image: debootstrap failed; last lines of its log:" >&2
    tail -n 15 "$work/debootstrap.log" >&2
    exit 1
  }
  # What a container image does not need: apt lists and caches, docs, man pages, logs.
  rm -rf "$work/root"/var/lib/apt/lists/* "$work/root"/var/cache/apt/* \
    "$work/root"/usr/share/doc/* "$work/root"/usr/share/man/* "$work/root"/usr/share/info/* \
    "$work/root"/var/log/* "$work/root"/tmp/*
  # `python` as well as `python3`, as python-is-python3 gives it: Procfiles often say `python`.
  # The plain base goes without, as Debian and Ubuntu images do.
  [ $plain = 1 ] || ln -sf python3 "$work/root/usr/bin/python"
  # The run user of CNB run images (uid/gid 1000, a home it owns), so images need no passwd of
  # their own. The plain base has none: it shows what boxwise adds on a base without one.
  if [ $plain = 0 ]; then
    echo "cnb:x:1000:1000:cnb:/home/cnb:/bin/sh" >>"$work/root/etc/passwd"
    echo "cnb:x:1000:" >>"$work/root/etc/group"
    mkdir -p "$work/root/home/cnb" && chown 1000:1000 "$work/root/home/cnb"
  fi
  # Point apt at Debian's own mirror inside the image, whatever this machine uses.
  echo "deb http://deb.debian.org/debian $suite main" >"$work/root/etc/apt/sources.list"
  # Written to a temporary name and renamed, so an interrupted run never leaves a half tar.
  tar --numeric-owner --sort=name --mtime='1980-01-01 00:00:01Z' -C "$work/root" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$rootfs_tar"
fi

echo "base-image: importing $rootfs_tar as $image"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL io.boxwise.base-version=$version" \
  --change 'CMD ["python3"]' \
  "$rootfs_tar" "$image" >/dev/null
echo "base-image: $image ready ($(docker image inspect --format '{{.Size}}' "$image") bytes)"

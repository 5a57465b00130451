#!/usr/bin/env bash
# Builds the nestling image from the npm package of this checkout: npm pack, then docker build with only the
# tarball and the Dockerfile in the context. Usage: images/nestling/build.sh [TAG] (extra args go to docker build,
# e.g. --build-arg NODE_IMAGE=... for a mirrored base image).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(node -p "require('$root/package.json').version")"
tag="${1:-docker.io/nestling/nestling:$version}"
shift || true
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && npm run --silent build && npm pack --silent --pack-destination "$ctx" >/dev/null)
mv "$ctx"/nestling-*.tgz "$ctx/nestling.tgz"
cp "$root/images/nestling/Dockerfile" "$ctx/Dockerfile"
docker build -t "$tag" "$@" "$ctx"
echo "built $tag"

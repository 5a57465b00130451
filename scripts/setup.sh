#!/usr/bin/env bash
# Installs what nestling's demo, tests and benchmarks need on Debian 12 (as root): Debian's docker.io and the
# packages the local images are built from, then the npm dependencies. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(docker.io busybox-static iptables iproute2 mmdebstrap uidmap rootlesskit slirp4netns fuse-overlayfs
      openssl ca-certificates haproxy docker-compose docker-registry procps)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 3
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
  apt-get "${apt_opts[@]}" update >/dev/null
  apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# A systemd-less machine: the package's service is not running; nestling starts its own private daemon.

# Docker CLI plugins for the guard's client tests: buildx (speaks BuildKit's /grpc API) and compose v2. Debian 12
# packages neither; Debian 13's docker-buildx and docker-compose are static binaries. Downloaded with a private apt
# state (the host's apt sources and packages are not changed), signature-checked by apt, and only extracted:
# nothing is installed.
PLUGIN_DIR="${NESTLING_TOOLS_DIR:-/var/cache/nestling-test/tools}/cli-plugins"
want=()
for p in docker-buildx docker-compose; do [ -x "$PLUGIN_DIR/$p" ] || want+=("$p"); done
if [ ${#want[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  echo "setup: fetching ${want[*]} from Debian 13 (trixie)" >&2
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$PLUGIN_DIR"
  echo "deb http://deb.debian.org/debian trixie main" > "$work/sources.list"
  apt_private=(-qq -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives" -o APT::Sandbox::User=root)
  if apt-get "${apt_private[@]}" update >/dev/null && (cd "$work" && apt-get "${apt_private[@]}" download "${want[@]}" >/dev/null); then
    for p in "${want[@]}"; do
      dpkg-deb -x "$work"/"${p}"_*.deb "$work/x"
      install -m 0755 "$work/x/usr/libexec/docker/cli-plugins/$p" "$PLUGIN_DIR/$p"
    done
  else
    echo "setup: could not fetch ${want[*]} (the buildx and compose v2 client tests will fail)" >&2
  fi
  rm -rf "$work"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

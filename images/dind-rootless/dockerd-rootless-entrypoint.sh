#!/bin/sh
# nestling/dind-rootless:local entrypoint: rootless dockerd (rootlesskit + slirp4netns + subuid/subgid), like
# docker:dind-rootless, through Debian's dockerd-rootless.sh.
#
#   no arguments, or arguments starting with '-'  =>  rootless dockerd with those arguments
#   anything else                                  =>  exec'd as is
#
# Runs as user `rootless` (uid 1000). Started as root (--user 0), it first remaps that user to
# NESTLING_ROOTLESS_UID / NESTLING_ROOTLESS_GID when set (e.g. to match a Kubernetes runAsUser), chowns its home
# and data root, then drops every privilege with setpriv and continues as that user. newuidmap/newgidmap carry
# file capabilities (cap_setuid / cap_setgid), not the setuid bit. Started as root it also hands /dev/net/tun to
# that user (some hosts make the node 0600 root, and --device copies the host's mode).
#
# Environment:
#   DOCKER_TLS_CERTDIR   set and non-empty: TLS on tcp://0.0.0.0:2376 (forwarded by rootlesskit), certs in
#                        docker:dind's layout (see `nestling certs`); unset or empty: the unix socket only
#                        ($XDG_RUNTIME_DIR/docker.sock, /run/user/<uid>/docker.sock).
#   NESTLING_DIND_MTU    MTU for rootlesskit's slirp4netns (default 65520) and the inner bridge.
#   NESTLING_DIND_HOST   extra -H listener.
set -eu

log() { echo "nestling-dind-rootless: $*" >&2; }

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- dockerd "$@"
fi

if [ "$(id -u)" = 0 ]; then
	user=rootless
	uid="${NESTLING_ROOTLESS_UID:-$(id -u "$user")}"
	gid="${NESTLING_ROOTLESS_GID:-$(id -g "$user")}"
	case "$uid$gid" in *[!0-9]*) log "NESTLING_ROOTLESS_UID/GID must be numbers"; exit 2 ;; esac
	if [ "$uid" = 0 ]; then log "the rootless user cannot be uid 0"; exit 2; fi
	if [ "$uid" != "$(id -u "$user")" ] || [ "$gid" != "$(id -g "$user")" ]; then
		log "remapping user $user to $uid:$gid"
		sed -i -e "s/^$user:\([^:]*\):[0-9]*:[0-9]*:/$user:\1:$uid:$gid:/" /etc/passwd
		sed -i -e "s/^$user:\([^:]*\):[0-9]*:/$user:\1:$gid:/" /etc/group
	fi
	home=/home/$user
	mkdir -p "$home/.local/share/docker" "/run/user/$uid"
	chown "$uid:$gid" "$home" "$home/.local" "$home/.local/share" "$home/.local/share/docker" "/run/user/$uid"
	chmod 0700 "/run/user/$uid"
	if [ -n "${DOCKER_TLS_CERTDIR:-}" ] && [ -f "$DOCKER_TLS_CERTDIR/server/key.pem" ] &&
		! setpriv --reuid="$uid" --regid="$gid" --clear-groups test -r "$DOCKER_TLS_CERTDIR/server/key.pem"; then
		chown -R "$uid:$gid" "$DOCKER_TLS_CERTDIR/server" 2>/dev/null ||
			log "cannot hand $DOCKER_TLS_CERTDIR/server to $uid:$gid (read-only?): write it owned by that uid (nestling certs --server-owner $uid:$gid)"
	fi
	# slirp4netns opens /dev/net/tun as the rootless user: hosts that make it 0600 root need it handed over
	if [ -c /dev/net/tun ]; then
		chown "$uid:$gid" /dev/net/tun
	fi
	export HOME="$home" USER="$user" XDG_RUNTIME_DIR="/run/user/$uid" DOCKER_HOST="unix:///run/user/$uid/docker.sock"
	exec setpriv --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all -- "$0" "$@"
fi

if [ "$1" != dockerd ]; then
	exec "$@"
fi
shift

uid="$(id -u)"
: "${HOME:=/home/rootless}"
export HOME
if [ -z "${XDG_RUNTIME_DIR:-}" ] || ! [ -w "${XDG_RUNTIME_DIR}" ]; then
	export XDG_RUNTIME_DIR="/run/user/$uid"
	mkdir -p "$XDG_RUNTIME_DIR" 2>/dev/null || { export XDG_RUNTIME_DIR="/tmp/run-$uid"; mkdir -p -m 0700 "$XDG_RUNTIME_DIR"; }
fi
if ! [ -c /dev/net/tun ]; then
	log "/dev/net/tun is missing: start the container with --device /dev/net/tun (slirp4netns needs it)"
	exit 3
fi
if ! [ -r /dev/net/tun ] || ! [ -w /dev/net/tun ]; then
	log "/dev/net/tun is not usable by uid $uid (the host has it $(stat -c %a /dev/net/tun)): start the container with --user 0; this entrypoint hands it over and drops to uid $uid"
	exit 3
fi
if [ -r /proc/sys/user/max_user_namespaces ] && [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
	log "user.max_user_namespaces is 0: rootless dockerd cannot run on this host"
	exit 3
fi
if ! grep -q "^$(id -un 2>/dev/null || echo "$uid"):" /etc/subuid && ! grep -q "^$uid:" /etc/subuid; then
	log "no /etc/subuid range for uid $uid"
	exit 3
fi

hasHost=
for a in "$@"; do
	case "$a" in -H | -H* | --host | --host=*) hasHost=1 ;; esac
done
flags="${DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS:-}"
if [ -z "$hasHost" ]; then
	set -- --host="unix://$XDG_RUNTIME_DIR/docker.sock" "$@"
	if [ -n "${DOCKER_TLS_CERTDIR:-}" ]; then
		d="$DOCKER_TLS_CERTDIR"
		for f in ca.pem cert.pem key.pem; do
			if ! [ -r "$d/server/$f" ]; then
				log "$d/server/$f is missing or unreadable by uid $uid (write the certs first: nestling certs --dir $d)"
				exit 3
			fi
		done
		set -- --host=tcp://0.0.0.0:2376 --tlsverify --tlscacert="$d/server/ca.pem" --tlscert="$d/server/cert.pem" \
			--tlskey="$d/server/key.pem" "$@"
		# dockerd listens inside rootlesskit's network namespace: forward the port to ours
		flags="$flags -p 0.0.0.0:2376:2376/tcp"
	else
		log "DOCKER_TLS_CERTDIR is empty: listening on unix://$XDG_RUNTIME_DIR/docker.sock only"
	fi
fi
if [ -n "${NESTLING_DIND_HOST:-}" ]; then
	set -- --host="$NESTLING_DIND_HOST" "$@"
fi
if [ -n "${NESTLING_DIND_MTU:-}" ]; then
	export DOCKERD_ROOTLESS_ROOTLESSKIT_MTU="$NESTLING_DIND_MTU"
	set -- --mtu="$NESTLING_DIND_MTU" "$@"
fi
export DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="$flags"
# inside the container there is no other slirp4netns to protect from: the sandbox needs mount rights we do not have
: "${DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX:=auto}"
export DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX
# docker-init (tini) as PID 1 reaps the shims rootlesskit leaves behind
if [ "$$" = 1 ]; then
	exec docker-init -- dockerd-rootless.sh "$@"
fi
exec dockerd-rootless.sh "$@"

#!/bin/sh
# nestling/dind:local entrypoint: behaves like docker:dind's dockerd-entrypoint.sh + dind.
#
#   no arguments, or arguments starting with '-'  =>  dockerd with those arguments
#   anything else                                  =>  exec'd as is (e.g. `sh`)
#
# Environment:
#   DOCKER_TLS_CERTDIR   set and non-empty: TLS on tcp://0.0.0.0:2376 with certs in docker:dind's layout
#                        ($DOCKER_TLS_CERTDIR/{ca,server,client}/); missing certs are generated with openssl
#                        (ECDSA P-256; nestling normally writes them, see `nestling certs`).
#                        unset or empty: the unix socket only (never plain TCP).
#   DOCKER_TLS_SAN       extra subjectAltNames for generated certs ("DNS:x IP:y", space separated).
#   DOCKER_IPTABLES_LEGACY  set: 1 = iptables-legacy, empty = nf_tables; unset: probed as docker:dind does.
#   NESTLING_DIND_MTU    MTU of the inner daemon's default bridge (take it from the outer network).
#   NESTLING_DIND_HOST   extra -H listener (e.g. unix:///run/nestling/docker.sock on a shared volume).
set -eu

log() { echo "nestling-dind: $*" >&2; }

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- dockerd "$@"
fi

if [ "$1" != dockerd ]; then
	exec "$@"
fi
shift

# --- TLS material (docker:dind layout) ------------------------------------------------------------------------
tls=
if [ -n "${DOCKER_TLS_CERTDIR:-}" ]; then
	tls=1
	d="$DOCKER_TLS_CERTDIR"
	if [ ! -s "$d/server/cert.pem" ] || [ ! -s "$d/server/key.pem" ] || [ ! -s "$d/server/ca.pem" ]; then
		log "generating certificates in $d (ECDSA P-256, 7 days)"
		umask 077
		mkdir -p "$d/ca" "$d/server" "$d/client"
		if [ ! -s "$d/ca/key.pem" ]; then
			openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca/key.pem"
			openssl req -new -x509 -key "$d/ca/key.pem" -days 7 -subj "/CN=nestling dind CA" -out "$d/ca/cert.pem" \
				-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
		fi
		san="DNS:docker,DNS:localhost,IP:127.0.0.1,DNS:$(hostname)"
		for ip in $(hostname -i 2>/dev/null || :); do san="$san,IP:$ip"; done
		for s in ${DOCKER_TLS_SAN:-}; do san="$san,$s"; done
		openssl ecparam -name prime256v1 -genkey -noout -out "$d/server/key.pem"
		openssl req -new -key "$d/server/key.pem" -subj "/CN=docker:dind server" -out "$d/server/csr.pem"
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$san" > "$d/server/ext.cnf"
		openssl x509 -req -in "$d/server/csr.pem" -CA "$d/ca/cert.pem" -CAkey "$d/ca/key.pem" -CAcreateserial \
			-days 7 -extfile "$d/server/ext.cnf" -out "$d/server/cert.pem" 2>/dev/null
		cp "$d/ca/cert.pem" "$d/server/ca.pem"
		if [ ! -s "$d/client/cert.pem" ]; then
			openssl ecparam -name prime256v1 -genkey -noout -out "$d/client/key.pem"
			openssl req -new -key "$d/client/key.pem" -subj "/CN=docker:dind client" -out "$d/client/csr.pem"
			printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' > "$d/client/ext.cnf"
			openssl x509 -req -in "$d/client/csr.pem" -CA "$d/ca/cert.pem" -CAkey "$d/ca/key.pem" -CAcreateserial \
				-days 7 -extfile "$d/client/ext.cnf" -out "$d/client/cert.pem" 2>/dev/null
			cp "$d/ca/cert.pem" "$d/client/ca.pem"
			chmod 0644 "$d/client/ca.pem" "$d/client/cert.pem"
		fi
		rm -f "$d"/*/csr.pem "$d"/*/ext.cnf "$d"/ca/*.srl
		umask 022
	fi
fi

# --- dockerd arguments ----------------------------------------------------------------------------------------
hasHost=
for a in "$@"; do
	case "$a" in -H | -H* | --host | --host=*) hasHost=1 ;; esac
done
if [ -z "$hasHost" ]; then
	set -- --host=unix:///var/run/docker.sock "$@"
	if [ -n "$tls" ]; then
		set -- --host=tcp://0.0.0.0:2376 --tlsverify \
			--tlscacert="$DOCKER_TLS_CERTDIR/server/ca.pem" \
			--tlscert="$DOCKER_TLS_CERTDIR/server/cert.pem" \
			--tlskey="$DOCKER_TLS_CERTDIR/server/key.pem" "$@"
	fi
fi
if [ -n "${NESTLING_DIND_HOST:-}" ]; then
	case "$NESTLING_DIND_HOST" in unix://*) mkdir -p "$(dirname "${NESTLING_DIND_HOST#unix://}")" ;; esac
	set -- --host="$NESTLING_DIND_HOST" "$@"
fi
if [ -n "${NESTLING_DIND_MTU:-}" ]; then
	set -- --mtu="$NESTLING_DIND_MTU" "$@"
fi

# --- iptables: legacy or nf_tables, probed as docker:dind does ------------------------------------------------
legacy=
if [ -n "${DOCKER_IPTABLES_LEGACY+x}" ]; then
	legacy="$DOCKER_IPTABLES_LEGACY"
elif (
	for f in /proc/net/ip_tables_names /proc/net/ip6_tables_names /proc/net/arp_tables_names; do
		if b="$(cat "$f" 2>/dev/null)" && [ -n "$b" ]; then exit 0; fi
	done
	exit 1
); then
	# the host already has legacy rules: mixing both makes a mess, stay legacy
	legacy=1
elif ! iptables-nft -nL >/dev/null 2>&1; then
	if iptables-legacy -nL >/dev/null 2>&1; then legacy=1; fi
fi
if [ -n "$legacy" ]; then
	export PATH="/usr/local/sbin/.iptables-legacy:$PATH"
	log "iptables: legacy"
else
	log "iptables: nf_tables"
fi

# --- nesting (docker's hack/dind) -----------------------------------------------------------------------------
export container=docker
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
	mount -t securityfs none /sys/kernel/security 2>/dev/null || log "could not mount /sys/kernel/security (AppArmor/SELinux may not work)"
fi
if ! mountpoint -q /tmp; then
	mount -t tmpfs none /tmp 2>/dev/null || :
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	# cgroup v2: mounted read-only without --privileged; make it writable (needs CAP_SYS_ADMIN)
	if ! [ -w /sys/fs/cgroup ]; then
		mount -o remount,rw /sys/fs/cgroup || log "cgroup v2: /sys/fs/cgroup is read-only and cannot be remounted"
	fi
	# move every process out of the root cgroup, else subtree_control fails with EBUSY
	mkdir -p /sys/fs/cgroup/init
	xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
	sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
	log "cgroup v2: nested under /init"
else
	# cgroup v1: without --privileged the hierarchies are bind-mounted read-only; the inner daemon must create
	# its cgroups below ours, so make them writable (needs CAP_SYS_ADMIN; a no-op under --privileged)
	for c in /sys/fs/cgroup /sys/fs/cgroup/*; do
		if mountpoint -q "$c" && ! [ -w "$c" ]; then
			if [ "$c" = /sys/fs/cgroup ]; then o=remount,rw; else o=remount,bind,rw; fi
			mount -o "$o" "$c" || log "cgroup v1: cannot make $c writable: the inner daemon will fail to start containers"
		fi
	done
fi

if [ -z "$tls" ] && [ -z "$hasHost" ]; then
	log "DOCKER_TLS_CERTDIR is empty: listening on the unix socket only"
fi
# docker-init (tini) reaps zombies when this is PID 1, as the official image's --init would
if [ "$$" = 1 ]; then
	exec docker-init -- dockerd "$@"
fi
exec dockerd "$@"

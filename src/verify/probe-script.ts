/**
 * The job `nestling verify` runs in each mode: a POSIX sh script (busybox is enough) that prints KEY=VALUE lines
 * about what the job can see and do through the engine it was given. Names and labels carry the verify id so the
 * host side can find what the job made.
 */

export interface ProbeNames {
  id: string;
  /** label put on the marker container the job creates */
  markerLabel: string;
  /** label of the sentinel container verify creates on the host engine */
  sentinelLabel: string;
  sentinelName: string;
  /** absolute path of a file on the engine host holding `token` */
  markerFile: string;
  token: string;
  /** an image that may exist on the host engine */
  hostImage: string;
}

export function probeScript(n: ProbeNames): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `
exec 2>/dev/null
# An engine that cannot be reached must not hang the measurement: every docker call gets 60 s (busybox timeout).
if command -v timeout >/dev/null; then docker() { timeout 60 "$(command -v docker)" "$@"; }; fi
echo V_START=1
echo "V_ENGINE_ID=$(docker info --format '{{.ID}}')"
echo "V_SECOPTS=$(docker info --format '{{json .SecurityOptions}}')"
echo "V_UID=$(id -u)"
while read k v rest; do case "$k" in CapEff:) echo "V_CAPEFF=$v";; CapBnd:) echo "V_CAPBND=$v";; Seccomp:) echo "V_SECCOMP=$v";; esac; done < /proc/self/status
IMG=${q(n.hostImage)}
if docker image inspect "$IMG" >/dev/null; then echo V_CACHE=shared; else
  echo V_CACHE=own
  BB=$(command -v busybox); case "$BB" in /*) ;; *) BB=/bin/busybox;; esac
  rm -rf /tmp/vimg && mkdir -p /tmp/vimg/bin && cp "$BB" /tmp/vimg/bin/busybox && for a in sh cat true sleep; do ln -s busybox /tmp/vimg/bin/$a; done
  IMG=nestling-verify-${n.id}:img
  tar -C /tmp/vimg -c . | docker import -c 'ENV PATH=/bin' - "$IMG" >/dev/null || echo V_IMPORT_FAILED=1
fi
echo "V_IMG=$IMG"
if docker create --label ${q(n.markerLabel)} "$IMG" /bin/true >/dev/null; then echo V_MARKER=1; else echo V_MARKER=0; fi
echo V_MARK_READY=1
sleep 3
if [ -n "$(docker ps -a -q --filter label=${q(n.sentinelLabel)})" ]; then echo V_SEE_HOST=1; else echo V_SEE_HOST=0; fi
if docker rm -f ${q(n.sentinelName)} >/dev/null; then echo V_RM_HOST=1; else echo V_RM_HOST=0; fi
if docker run --rm "$IMG" true >/dev/null; then echo V_RUN=1; else echo V_RUN=0; echo "V_RUN_ERR=$(docker run --rm "$IMG" true 2>&1 | tail -n 1 | cut -c1-200)"; fi
if docker run --rm -v /:/hostroot "$IMG" cat /hostroot${n.markerFile} | grep -q ${q(n.token)}; then echo V_HOST_ROOT=1; else echo V_HOST_ROOT=0; fi
if docker run --rm --privileged "$IMG" true >/dev/null; then echo V_PRIV=1; else echo "V_PRIV=0"; echo "V_PRIV_ERR=$(docker run --rm --privileged "$IMG" true 2>&1 | tail -n 1 | cut -c1-200)"; fi
if docker run --rm --cap-add SYS_ADMIN --security-opt seccomp=unconfined "$IMG" true >/dev/null; then echo V_SYSADMIN=1; else echo V_SYSADMIN=0; fi
if docker run --rm --pid=host "$IMG" true >/dev/null; then echo V_PIDHOST=1; else echo V_PIDHOST=0; fi
echo V_END=1
`;
}

/** KEY=VALUE lines (the last value of a key wins). */
export function parseProbeOutput(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const r = /^(V_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (r?.[1]) m.set(r[1], r[2] ?? '');
  }
  return m;
}

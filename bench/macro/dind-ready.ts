/**
 * DinD time to ready, TLS on: from the start of `run` (facts, probes from the cache, plan, certificates, network,
 * volume, daemon container) to the inner daemon answering /_ping over TLS; median of N runs.
 * Beside it, in the same process and on the same image and privileges, the docker:dind method: the entrypoint
 * first makes three RSA-4096 keys with openssl (CA, server, client) and signs the certificates, then starts
 * dockerd with --tlsverify; ready when the docker CLI inside answers over TLS.
 *   N=5 (default) node dind-ready.js
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deps, engine, lib, median, report, type Any } from './dind-common.js';

const N = Number(process.env.N ?? 5);
const IMAGE = process.env.DIND_IMAGE ?? 'nestling/dind:local';

const ANCHOR_SCRIPT = `set -e
d=/certs; mkdir -p $d/ca $d/server $d/client; cd $d
openssl genrsa -out ca/key.pem 4096 2>/dev/null
openssl req -new -x509 -key ca/key.pem -days 825 -subj /CN=docker:dind-CA -out ca/cert.pem
openssl genrsa -out server/key.pem 4096 2>/dev/null
openssl req -new -key server/key.pem -subj /CN=docker:dind-server -out server/csr.pem
printf 'subjectAltName=DNS:docker,DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server/ext.cnf
openssl x509 -req -in server/csr.pem -CA ca/cert.pem -CAkey ca/key.pem -CAcreateserial -days 825 -extfile server/ext.cnf -out server/cert.pem 2>/dev/null
cp ca/cert.pem server/ca.pem
openssl genrsa -out client/key.pem 4096 2>/dev/null
openssl req -new -key client/key.pem -subj /CN=docker:dind-client -out client/csr.pem
printf 'extendedKeyUsage=clientAuth\\n' > client/ext.cnf
openssl x509 -req -in client/csr.pem -CA ca/cert.pem -CAkey ca/key.pem -CAcreateserial -days 825 -extfile client/ext.cnf -out client/cert.pem 2>/dev/null
cp ca/cert.pem client/ca.pem
export DOCKER_TLS_CERTDIR=/certs
dockerd-entrypoint.sh >/tmp/dockerd.log 2>&1 &
until docker --tlsverify --tlscacert=$d/client/ca.pem --tlscert=$d/client/cert.pem --tlskey=$d/client/key.pem -H tcp://127.0.0.1:2376 version >/dev/null 2>&1; do sleep 0.1; done
echo NESTLING-ANCHOR-READY
sleep 3600
`;

async function ours(e: Any): Promise<number> {
  const { run, apply } = await lib();
  const d = await deps();
  const t0 = performance.now();
  d.warmUp().catch(() => {});
  const { plan } = await run.prepareRun(e, { mode: 'dind', images: 'local', preload: [], env: [], cmd: ['true'], tty: false, interactive: false, runId: run.newRunId() }, d);
  plan.containers = plan.containers.filter((c: { role: string }) => c.role !== 'job');
  let dep: Any;
  try {
    dep = await apply.deploy(e, plan, { ...d, signal: undefined });
    return Math.round(performance.now() - t0);
  } finally {
    await apply.teardown(e, dep ?? { plan });
  }
}

async function anchor(e: Any, hostConfig: Record<string, unknown>): Promise<number> {
  const { reaper } = await lib();
  const runId = `bench-anchor-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const labels = reaper.runLabels(runId, 'daemon', reaper.pidLabelFor((await import('node:os')).hostname(), process.pid));
  await e.json({ method: 'POST', path: '/volumes/create', body: { Name: `${runId}-data`, Labels: labels } });
  const t0 = performance.now();
  try {
    const c = await e.json({
      method: 'POST',
      path: '/containers/create',
      query: { name: runId },
      body: {
        Image: IMAGE,
        Entrypoint: ['sh', '-c', ANCHOR_SCRIPT],
        Labels: labels,
        HostConfig: { ...hostConfig, Mounts: [{ Type: 'volume', Source: `${runId}-data`, Target: '/var/lib/docker' }] },
      },
    });
    await e.call({ method: 'POST', path: `/containers/${c.Id}/start` });
    for (let i = 0; i < 1200; i++) {
      const res = await e.request({ method: 'GET', path: `/containers/${c.Id}/logs`, query: { stdout: true, stderr: true } });
      let text = '';
      for await (const chunk of res) text += (chunk as Buffer).toString('latin1');
      if (text.includes('NESTLING-ANCHOR-READY')) return Math.round(performance.now() - t0);
      await sleep(50);
    }
    throw new Error('the docker:dind method did not become ready in 60 s');
  } finally {
    await reaper.reapRun(e, runId);
  }
}

async function main() {
  const e = await engine();
  const { facts, privilege } = await lib();
  const d = await deps();
  // the same privileges for both methods: --privileged, or this host's explicit equivalent
  const f = await facts.gatherFacts(e);
  const p = d.probeCache.get(f, 'privilege') ?? (await facts.probePrivilege(e, f, { image: IMAGE, labels: { 'io.nestling.managed': 'true' } }));
  d.probeCache.set(f, 'privilege', p);
  const hostConfig = p.granted ? { Privileged: true } : privilege.privilegedEquivalentHostConfig(p.caps);
  await ours(e); // warm-up: loads modules, fills the probe cache
  const oursMs: number[] = [];
  const anchorMs: number[] = [];
  for (let i = 0; i < N; i++) {
    oursMs.push(await ours(e));
    anchorMs.push(await anchor(e, hostConfig));
    process.stderr.write(`run ${i + 1}/${N}: nestling ${oursMs.at(-1)} ms, docker:dind method ${anchorMs.at(-1)} ms\n`);
  }
  report('dind-ready', {
    image: IMAGE,
    privileges: p.granted ? '--privileged' : 'explicit equivalent (this engine cannot grant --privileged)',
    runs: N,
    nestling: { medianMs: median(oursMs), samplesMs: oursMs, method: 'ECDSA P-256 certificates in-process, issued while the container is created; /_ping over TLS on a loopback port' },
    dockerDindMethod: { medianMs: median(anchorMs), samplesMs: anchorMs, method: 'openssl genrsa 4096 x3 + signing in the entrypoint, then dockerd --tlsverify; ready when `docker version` over TLS answers inside' },
    targetMedianMs: 1500,
    met: median(oursMs) <= 1500,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`dind-ready: ${String(e)}\n`);
  process.exitCode = 1;
});

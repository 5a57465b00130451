// Testcontainers for Node WITH Ryuk enabled, through the guard, end to end. The real testcontainers/ryuk image cannot
// be pulled on this air-gapped host, so a locally built stand-in takes its place (test/fixtures/ryuk/ryuk.pl: Ryuk's
// protocol and prune rules, read from moby-ryuk's reaper.go). What this proves, against the real dockerd:
// - Testcontainers creates its reaper through the guard, as the owner, bound to the guard's own socket (never the
//   host's); when the Testcontainers process exits without stopping anything, the reaper sees the connection close
//   through docker-proxy and removes the session's containers and networks through the guard; objects of another
//   owner, and objects made directly on the daemon, that carry the same session label survive (it cannot see them);
// - two processes of one owner share one reaper, which waits for both (one killed -9); another owner gets its own;
// - `nestling run --mode guarded` exports what Testcontainers needs: inside a job, Testcontainers reaches mapped
//   ports at TESTCONTAINERS_HOST_OVERRIDE and its Ryuk binds TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE and reaps;
// - why the earlier busybox `nc` stand-in never reaped anything (last test).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { buildNodeJobImage, buildRyukImage } from '../../harness/ryuk.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { EngineError } from '../../../src/util/errors.js';
import { DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';
import { leftovers, NOTHING, runJobForTest } from '../modes/helpers.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const SESSION_LABEL = 'org.testcontainers.session-id';
const OWNER_LABEL = 'io.nestling.owner';

interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
  State: string;
  Mounts: { Type: string; Source: string; Destination: string }[];
}

/** Polls fn until it returns a value other than undefined, or fails after timeoutMs with the last state. */
async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, state: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${await state()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('guard: Testcontainers with Ryuk enabled (a local stand-in speaking Ryuk\'s protocol) through the guard', () => {
  let d: TestDaemon;
  let ga: TestGuard;
  let gb: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gryuk');
  const ownerA = `${prefix}-A`;
  const ownerB = `${prefix}-B`;
  const image = `${prefix}-ryuk:local`;
  let work: string;

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    await buildRyukImage(d.engine, image);
    cleanup.add('image', image);
    ga = await startTestGuard(d, ownerA);
    gb = await startTestGuard(d, ownerB);
    work = mkdtempSync(join(tmpdir(), 'nst-ryuk-'));
  });
  after(async () => {
    await ga?.close();
    await gb?.close();
    await reapOwner(d.engine, ownerA).catch(() => undefined);
    await reapOwner(d.engine, ownerB).catch(() => undefined);
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const inspect = async (kind: 'containers' | 'networks', id: string): Promise<unknown> => {
    try {
      return await d.engine.json({ method: 'GET', path: kind === 'containers' ? `/containers/${id}/json` : `/networks/${id}` });
    } catch (e) {
      if (e instanceof EngineError && e.statusCode === 404) return undefined;
      throw e;
    }
  };
  const list = (labels: string[]) =>
    d.engine.json<ContainerSummary[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters: JSON.stringify({ label: labels }) } });

  /**
   * A Testcontainers 11 client in its own process (DOCKER_HOST = the guard, Ryuk enabled with the stand-in image): it
   * starts a network and a container on it, prints their ids, and exits without stopping anything when its stdin
   * ends (end()) or when it is killed (kill()).
   */
  async function startTestcontainers(g: TestGuard) {
    const script = join(work, 'tc.mjs');
    writeFileSync(
      script,
      `const { GenericContainer, Network } = await import(${JSON.stringify(join(REPO, 'node_modules/testcontainers/build/index.js'))});
const network = await new Network().start();
const c = await new GenericContainer('nestling/busybox:local').withCommand(['sleep', '300']).withNetwork(network).withStartupTimeout(60000).start();
console.log('CONTAINER=' + c.getId() + ' NETWORK=' + network.getId());
process.stdin.on('data', () => {});
process.stdin.once('end', () => process.exit(0));
`,
    );
    const env = {
      ...process.env,
      DOCKER_HOST: g.url,
      RYUK_CONTAINER_IMAGE: image,
      TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1',
      TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: '2s',
      TESTCONTAINERS_RYUK_DISABLED: 'false',
    };
    const child = spawn(process.execPath, [script], { env, cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(signal ? -1 : code)));
    const ids = await new Promise<{ container: string; network: string }>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /CONTAINER=([0-9a-f]{64}) NETWORK=([0-9a-f]{64})/.exec(stdout);
        if (m) resolve({ container: m[1]!, network: m[2]! });
      });
      void exited.then((code) => reject(new Error(`testcontainers process exited ${code}:\n${stdout}\n${stderr}`)));
    });
    cleanup.add('container', ids.container);
    cleanup.add('network', ids.network);
    return { ids, exited, stderr: () => stderr, end: () => child.stdin.end(), kill: () => child.kill('SIGKILL') };
  }
  const sessionOf = async (id: string) => ((await inspect('containers', id)) as { Config: { Labels: Record<string, string> } }).Config.Labels[SESSION_LABEL];
  const dockerLogs = async (id: string) => {
    const r = await run(DOCKER_28, ['logs', id], { env: { DOCKER_HOST: d.url } });
    return r.stdout + r.stderr;
  };

  it('after the Testcontainers process exits, its Ryuk removes the session\'s containers and networks through the guard, and nothing of another owner', { timeout: 240_000 }, async () => {
    // The Testcontainers client runs in its own process; it exits without stopping anything, as a suite that ends.
    const tcA = await startTestcontainers(ga);
    const { ids, exited } = tcA;
    const stderr = tcA.stderr();

    // the session's objects were made through the guard: the owner's, with Testcontainers' session label
    const tc = (await inspect('containers', ids.container)) as { Config: { Labels: Record<string, string> } };
    const sid = tc.Config.Labels[SESSION_LABEL];
    assert.ok(sid, `no ${SESSION_LABEL} label: ${JSON.stringify(tc.Config.Labels)}`);
    assert.equal(tc.Config.Labels[OWNER_LABEL], ownerA);
    const tn = (await inspect('networks', ids.network)) as { Labels: Record<string, string> };
    assert.equal(tn.Labels[SESSION_LABEL], sid);
    assert.equal(tn.Labels[OWNER_LABEL], ownerA);

    // the Ryuk container: made through the guard (owner A), for this session, bound to the guard's own socket only
    const ryuks = await list([`${OWNER_LABEL}=${ownerA}`, 'org.testcontainers.ryuk=true']);
    assert.equal(ryuks.length, 1, stderr);
    const ryuk = ryuks[0]!;
    cleanup.add('container', ryuk.Id);
    assert.equal(ryuk.Labels[SESSION_LABEL], sid);
    assert.deepEqual(ryuk.Mounts.map((m) => [m.Type, m.Source, m.Destination]), [['bind', ga.socketPath, '/var/run/docker.sock']]);
    assert.notEqual(ga.socketPath, new URL(d.url).pathname, 'the guard socket is not the daemon socket');

    // Objects carrying the very same session label that are not owner A's: one of owner B (through B's guard), one
    // made directly on the daemon. Two-sided: the daemon matches them with Ryuk's filter; through A's guard (what
    // the Ryuk container talks to) the same filter lists only A's container.
    const rb = await run(DOCKER_28, ['run', '-d', '--name', `${prefix}-b1`, '--label', `${SESSION_LABEL}=${sid}`, 'nestling/busybox:local', 'sleep', '300'], { env: { DOCKER_HOST: gb.url } });
    assert.equal(rb.code, 0, rb.stderr);
    const bId = cleanup.add('container', rb.stdout.trim());
    const rn = await run(DOCKER_28, ['network', 'create', '--label', `${SESSION_LABEL}=${sid}`, `${prefix}-bnet`], { env: { DOCKER_HOST: gb.url } });
    assert.equal(rn.code, 0, rn.stderr);
    cleanup.add('network', `${prefix}-bnet`);
    const rh = await run(DOCKER_28, ['run', '-d', '--name', `${prefix}-h1`, '--label', `${SESSION_LABEL}=${sid}`, 'nestling/busybox:local', 'sleep', '300'], { env: { DOCKER_HOST: d.url } });
    assert.equal(rh.code, 0, rh.stderr);
    const hId = cleanup.add('container', rh.stdout.trim());
    const direct = (await list([`${SESSION_LABEL}=${sid}`])).map((c) => c.Id);
    for (const id of [ids.container, bId, hId, ryuk.Id]) assert.ok(direct.includes(id), 'the daemon matches all four with the session filter');
    const viaA = await run(DOCKER_28, ['ps', '-aq', '--no-trunc', '--filter', `label=${SESSION_LABEL}=${sid}`], { env: { DOCKER_HOST: ga.url } });
    assert.deepEqual(viaA.stdout.trim().split('\n').sort(), [ids.container, ryuk.Id].sort());

    // the suite ends: the process exits without stopping its containers; its connection to Ryuk closes
    const recordsBefore = ga.records.length;
    tcA.end();
    assert.equal(await exited, 0, tcA.stderr());
    const exitedAt = Date.now();

    // Ryuk runs with AutoRemove (Testcontainers sets it for the reaper image): follow its log and its exit code
    // from now on, the container is gone once it has finished.
    const ryukLogs = run(DOCKER_28, ['logs', '-f', ryuk.Id], { env: { DOCKER_HOST: d.url }, timeoutMs: 150_000 });
    const ryukExit = run(DOCKER_28, ['wait', ryuk.Id], { env: { DOCKER_HOST: d.url }, timeoutMs: 150_000 });
    const state = async () => {
      const r = await run(DOCKER_28, ['logs', ryuk.Id], { env: { DOCKER_HOST: d.url } });
      return `ryuk logs:\n${r.stdout}${r.stderr}\ntestcontainers stderr:\n${tcA.stderr()}`;
    };
    // Ryuk: reconnection timeout (2 s) after the close, then list, then remove; generous on a noisy 2-core machine
    await waitFor('the session\'s container and network to be removed', 90_000, async () => ((await inspect('containers', ids.container)) === undefined && (await inspect('networks', ids.network)) === undefined ? true : undefined), state);
    const gone = Date.now() - exitedAt;
    // then Ryuk is done: it exits 0 (nothing left that it could not remove) and its log tells what it did
    const [exit, followed] = await Promise.all([ryukExit, ryukLogs]);
    const ryukLog = followed.stdout + followed.stderr;
    assert.equal(exit.stdout.trim(), '0', `${exit.stdout}${exit.stderr}\n${ryukLog}`);
    assert.equal(followed.code, 0, ryukLog);
    assert.match(ryukLog, /msg="client disconnected" address=\S+ clients=0/);
    assert.match(ryukLog, new RegExp(`msg="adding filter" type=label values="\\[${SESSION_LABEL.replace(/\./g, '\\.')}=${sid}\\]"`));
    assert.match(ryukLog, /msg=removed containers=1 networks=1 volumes=0 images=0/);

    // Who removed them: the guard forwarded DELETE /containers/<id> and DELETE /networks/<id> after the
    // Testcontainers process had exited; nobody else talks to A's guard then, the Ryuk container is its one client.
    const after = ga.records.slice(recordsBefore);
    const removed = (kind: string, id: string) => after.find((r) => r.method === 'DELETE' && new RegExp(`^(/v[0-9.]+)?/${kind}/${id}$`).test(r.path));
    const delC = removed('containers', ids.container);
    const delN = removed('networks', ids.network);
    assert.ok(delC && delC.decision === 'forward' && delC.status === 204, JSON.stringify(after));
    assert.ok(delN && delN.decision === 'forward' && delN.status === 204, JSON.stringify(after));
    assert.ok(after.every((r) => r.owner === ownerA));
    assert.ok(after.some((r) => r.method === 'GET' && /\/containers\/json$/.test(r.path)), 'Ryuk listed the containers through the guard');

    // isolation: owner B's container and network, and the daemon-direct container, survive with the session label
    for (const id of [bId, hId]) {
      const s = (await inspect('containers', id)) as { State: { Running: boolean } } | undefined;
      assert.ok(s?.State.Running, `${id} survived Ryuk's sweep`);
    }
    assert.ok(await inspect('networks', `${prefix}-bnet`), 'owner B\'s network survived');
    // nothing of owner A is left: the session's objects went with Ryuk, Ryuk went with its AutoRemove
    await waitFor('the Ryuk container to be auto-removed', 60_000, async () => ((await list([`${OWNER_LABEL}=${ownerA}`])).length === 0 ? true : undefined), async () => JSON.stringify(await list([`${OWNER_LABEL}=${ownerA}`])));
    // a report line for the test log: how long the reaping took after the process exit (not an assertion)
    process.stderr.write(`ryuk: the session's objects were gone ${gone} ms after the Testcontainers process exited\n`);
  });

  it('two Testcontainers processes of one owner share its Ryuk, which reaps only when both are gone (one killed -9); another owner\'s process gets its own', { timeout: 300_000 }, async () => {
    const a1 = await startTestcontainers(ga);
    const a2 = await startTestcontainers(ga);
    const b1 = await startTestcontainers(gb);
    // Testcontainers reuses a running Ryuk it can list (and takes its session id): through A's guard, A's Ryuk;
    // through B's guard A's Ryuk does not exist, so B gets its own, bound to B's guard socket
    const sA = await sessionOf(a1.ids.container);
    assert.equal(await sessionOf(a2.ids.container), sA, 'the second process of owner A reused the running Ryuk');
    const sB = await sessionOf(b1.ids.container);
    assert.notEqual(sB, sA);
    const ryA = await list([`${OWNER_LABEL}=${ownerA}`, 'org.testcontainers.ryuk=true']);
    const ryB = await list([`${OWNER_LABEL}=${ownerB}`, 'org.testcontainers.ryuk=true']);
    assert.equal(ryA.length, 1, JSON.stringify(ryA));
    assert.equal(ryB.length, 1, JSON.stringify(ryB));
    const ryukA = cleanup.add('container', ryA[0]!.Id);
    const ryukB = cleanup.add('container', ryB[0]!.Id);
    assert.equal(ryA[0]!.Labels[SESSION_LABEL], sA);
    assert.equal(ryB[0]!.Labels[SESSION_LABEL], sB);
    assert.deepEqual(ryB[0]!.Mounts.map((m) => m.Source), [gb.socketPath]);
    // both reapers run with AutoRemove: follow their logs to the end from now on
    const followA = run(DOCKER_28, ['logs', '-f', ryukA], { env: { DOCKER_HOST: d.url }, timeoutMs: 240_000 });
    const followB = run(DOCKER_28, ['logs', '-f', ryukB], { env: { DOCKER_HOST: d.url }, timeoutMs: 240_000 });

    // kill -9 the first process of A: Ryuk A sees one of its two connections close, the other keeps it waiting
    a1.kill();
    assert.equal(await a1.exited, -1);
    await waitFor('Ryuk A to see the first client go', 60_000, async () => (/msg="client disconnected" address=\S+ clients=1/.test(await dockerLogs(ryukA)) ? true : undefined), () => dockerLogs(ryukA));
    // well past the reconnection timeout (2 s): no prune check ran, the killed process's objects are still there
    await new Promise((r) => setTimeout(r, 8000));
    assert.doesNotMatch(await dockerLogs(ryukA), /prune check/);
    assert.ok(await inspect('containers', a1.ids.container), 'kept while another client of the session is connected');
    assert.ok(await inspect('networks', a1.ids.network));

    // the second process of A ends: now both processes' containers and networks go
    a2.end();
    assert.equal(await a2.exited, 0, a2.stderr());
    const gone = async (ids: { container: string; network: string }[]) => {
      for (const i of ids) if ((await inspect('containers', i.container)) !== undefined || (await inspect('networks', i.network)) !== undefined) return undefined;
      return true;
    };
    await waitFor('both A processes\' objects to be removed', 90_000, () => gone([a1.ids, a2.ids]), () => dockerLogs(ryukA));
    const la = await followA;
    assert.match(la.stdout, /msg="client disconnected" address=\S+ clients=0/);
    assert.match(la.stdout, /msg=removed containers=2 networks=2 volumes=0 images=0/, la.stdout);

    // B's session was not touched by A's Ryuk; B's own Ryuk reaps it once B's process is gone
    const b = (await inspect('containers', b1.ids.container)) as { State: { Running: boolean } } | undefined;
    assert.ok(b?.State.Running, 'owner B\'s container survived A\'s Ryuk');
    b1.end();
    assert.equal(await b1.exited, 0, b1.stderr());
    await waitFor('B\'s objects to be removed by B\'s Ryuk', 90_000, () => gone([b1.ids]), () => dockerLogs(ryukB));
    const lb = await followB;
    assert.match(lb.stdout, /msg=removed containers=1 networks=1 volumes=0 images=0/, lb.stdout);
    assert.ok(gb.records.some((r) => r.method === 'DELETE' && r.path.endsWith(`/containers/${b1.ids.container}`) && r.status === 204), 'removed through B\'s guard');
    assert.ok(!ga.records.some((r) => r.path.includes(b1.ids.container)), 'A\'s guard never saw B\'s container');
  });

  it('nestling run --mode guarded: the job\'s TESTCONTAINERS_* settings let a Ryuk it starts bind the guard socket, be reached, and reap', { timeout: 240_000 }, async () => {
    // What Testcontainers does in a guarded job, step by step with the job image's docker CLI and busybox nc (no
    // Node in the job image): a session container; Ryuk with TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE bound at
    // /var/run/docker.sock and port 8080 published; a connection to TESTCONTAINERS_HOST_OVERRIDE:<mapped port> that
    // sends the session filter and closes. The job itself waits until Ryuk has removed the session container.
    const script = [
      'set -e',
      'echo "HOST_OVERRIDE=$TESTCONTAINERS_HOST_OVERRIDE SOCKET_OVERRIDE=$TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE"',
      'sid="job-$$-$(date +%s)"',
      'cid=$(docker run -d --label org.testcontainers.session-id=$sid nestling/busybox:local sleep 300)',
      'rid=$(docker run -d -p 8080 --label org.testcontainers.ryuk=true --label org.testcontainers.session-id=$sid -e RYUK_RECONNECTION_TIMEOUT=1s -v "$TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE:/var/run/docker.sock" "$RYUK_IMAGE")',
      'i=0; until docker logs $rid 2>&1 | grep -q Started; do i=$((i+1)); [ $i -lt 120 ] || { docker logs $rid; exit 10; }; sleep 0.5; done',
      'port=$(docker port $rid 8080/tcp | sed -n "s/^0\\.0\\.0\\.0:\\([0-9]*\\)$/\\1/p" | head -n 1)',
      `(printf 'label=org.testcontainers.session-id=%s\\r\\n' "$sid"; sleep 2) | timeout 30 nc "$TESTCONTAINERS_HOST_OVERRIDE" "$port" > /tmp/ack || true`,
      'echo "ACK=[$(tr -d "\\n" < /tmp/ack)]"',
      'i=0; while docker inspect $cid >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 240 ] || { docker logs $rid; exit 11; }; sleep 0.5; done',
      'echo REAPED',
      'i=0; until [ "$(docker inspect -f "{{.State.Status}}" $rid)" = exited ]; do i=$((i+1)); [ $i -lt 120 ] || exit 12; sleep 0.5; done',
      'docker logs $rid',
    ].join('\n');
    const r = await runJobForTest(d.engine, { mode: 'guarded', env: [`RYUK_IMAGE=${image}`], cmd: ['sh', '-c', script] });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.summary.exitCode, 0, out);
    assert.match(r.stdout, /^HOST_OVERRIDE=host\.docker\.internal SOCKET_OVERRIDE=\/\S+\/docker\.sock$/m);
    assert.match(r.stdout, /^ACK=\[ACK\]$/m, out);
    assert.match(r.stdout, /^REAPED$/m);
    assert.match(r.stdout, /msg=removed containers=1 networks=0 volumes=0 images=0/, out);
    // the run's teardown leaves nothing (the exited Ryuk is the owner's and is reaped with the run)
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });

  it('nestling run --mode guarded with Testcontainers for Node inside the job: its mapped ports are reached, its Ryuk binds the guard socket and reaps after the process exits', { timeout: 300_000 }, async () => {
    // The job image: the CLI image plus this Node binary and its libraries; Testcontainers comes from this checkout's
    // node_modules, mounted as the job's workspace. Nothing Testcontainers-specific is set for the job but the
    // stand-in Ryuk image and a short reconnection timeout: the rest is what guarded mode exports.
    const nodeImage = `${prefix}-node:local`;
    cleanup.add('image', nodeImage);
    await buildNodeJobImage(d.engine, nodeImage);
    const modules = join(REPO, 'node_modules');
    const tc = [
      "import net from 'node:net';",
      `const { GenericContainer } = await import(${JSON.stringify(join(modules, 'testcontainers/build/index.js'))});`,
      "const c = await new GenericContainer('nestling/busybox:local').withExposedPorts(8080)",
      "  .withCommand(['sh', '-c', 'while true; do echo hello-from-the-mapped-port | nc -l -p 8080; done']).withStartupTimeout(60000).start();",
      'const greeting = await new Promise((resolve, reject) => {',
      "  let got = '';",
      "  net.connect(c.getMappedPort(8080), c.getHost()).on('data', (b) => (got += b)).on('end', () => resolve(got.trim())).on('error', reject);",
      '});',
      "console.log('HOST=' + c.getHost() + ' GREETING=' + greeting + ' CONTAINER=' + c.getId());",
      'process.exit(0); // the suite ends without stopping its container',
    ].join('\n');
    const script = [
      'set -e -o pipefail',
      `cat > /tmp/tc.mjs <<'EOF'\n${tc}\nEOF`,
      'node /tmp/tc.mjs | tee /tmp/tc.out',
      'cid=$(sed -n "s/.* CONTAINER=//p" /tmp/tc.out)',
      'rid=$(docker ps -q --no-trunc --filter label=org.testcontainers.ryuk=true)',
      '[ -n "$cid" ] && [ -n "$rid" ]',
      'echo "RYUK_BINDS=$(docker inspect -f "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}" $rid)"',
      'echo "SOCKET_OVERRIDE=$TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE"',
      'docker logs -f $rid > /tmp/ryuk.log 2>&1 &',
      'i=0; while docker inspect $cid >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 240 ] || { cat /tmp/ryuk.log; exit 11; }; sleep 0.5; done',
      'echo REAPED',
      'wait',
      'cat /tmp/ryuk.log',
    ].join('\n');
    const r = await runJobForTest(d.engine, {
      mode: 'guarded',
      image: nodeImage,
      workspace: modules,
      env: [`RYUK_CONTAINER_IMAGE=${image}`, 'TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT=2s'],
      cmd: ['sh', '-c', script],
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.summary.exitCode, 0, out);
    // Testcontainers used the exported host and reached the container's mapped port there
    assert.match(r.stdout, /^HOST=host\.docker\.internal GREETING=hello-from-the-mapped-port CONTAINER=[0-9a-f]{64}$/m, out);
    // its Ryuk bound TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE (the guard socket's host path) and nothing else
    const override = /^SOCKET_OVERRIDE=(\/\S+\/docker\.sock)$/m.exec(r.stdout)?.[1];
    assert.ok(override, out);
    assert.match(r.stdout, new RegExp(`^RYUK_BINDS=${override.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:/var/run/docker\\.sock $`, 'm'), out);
    assert.match(r.stdout, /^REAPED$/m, out);
    assert.match(r.stdout, /msg=removed containers=1 networks=0 volumes=0 images=0/, out);
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });

  it('why a busybox `nc -l` stand-in never reaps for Testcontainers: it half-closes at once, docker-proxy passes that on, and the client closes before it writes its filter', { timeout: 120_000 }, async () => {
    // `nc -l -p 8080 &` in a non-interactive sh reads stdin from /dev/null: busybox nc shuts down its write side as
    // soon as it accepts (stdin EOF => shutdown(SHUT_WR)); docker-proxy passes that FIN on to the client (it half-
    // closes the client side when the container side ends); a net.Socket with allowHalfOpen false (Testcontainers'
    // reaper socket) then ends its own side too, so nc exits before the client wrote anything.
    const r = await run(DOCKER_28, ['run', '-d', '--name', `${prefix}-nc`, '-p', '127.0.0.1::8080', 'nestling/busybox:local', 'sh', '-c', 'nc -l -p 8080 > /tmp/got & l=$!; echo listening; wait $l; echo "nc exited, got [$(cat /tmp/got)]"; sleep 300'], { env: { DOCKER_HOST: d.url } });
    assert.equal(r.code, 0, r.stderr);
    const id = cleanup.add('container', r.stdout.trim());
    const logs = async () => (await run(DOCKER_28, ['logs', id], { env: { DOCKER_HOST: d.url } })).stdout;
    await waitFor('nc to listen', 30_000, async () => (/listening/.test(await logs()) ? true : undefined), logs);
    const port = Number(/:(\d+)\s*$/.exec((await run(DOCKER_28, ['port', id, '8080'], { env: { DOCKER_HOST: d.url } })).stdout.trim().split('\n')[0]!)?.[1]);
    assert.ok(port > 0);
    // the client: connects, writes nothing, waits (up to 20 s) for the server side to end
    const ended = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      const t = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 20_000);
      s.on('end', () => {
        clearTimeout(t);
        resolve(true);
      });
      s.on('error', () => undefined);
    });
    assert.equal(ended, true, 'the client saw the server end its side without having written anything');
    await waitFor('nc to exit with nothing read', 30_000, async () => (/nc exited, got \[\]/.test(await logs()) ? true : undefined), logs);
  });
});

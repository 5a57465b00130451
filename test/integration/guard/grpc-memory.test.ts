// /grpc memory under a hostile client (found by attacking the guard): a job opens more calls than the daemon serves
// at once (Control.Session streams the daemon keeps open), then sends large Solves. Each checked message stays
// counted against the connection's budget until the engine has taken it, and the guard allows 100 streams per
// connection (below the daemon's 250), so no checked call waits inside the guard: its RSS stays flat.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, type TestDaemon } from '../../harness/dockerd.js';
import { openGrpc, solveRequest } from './buildkit-client.js';

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const frame = (m: Buffer) => {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(m.length, 1);
  return Buffer.concat([h, m]);
};

describe('guard /grpc: checked messages cannot pile up in the guard', () => {
  let d: TestDaemon;
  let guard: ChildProcess;
  let dir: string;
  let sock: string;

  before(async () => {
    d = await useDockerd();
    dir = mkdtempSync(join(tmpdir(), 'nst-grpcmem-'));
    sock = join(dir, 'g.sock');
    const main = new URL('../../../src/cli/main.js', import.meta.url).pathname;
    guard = spawn(process.execPath, [main, 'guard', '--upstream', d.url, '--listen', `unix://${sock}`, '--owner', `nst-grpcmem-${Date.now().toString(36)}`, '--no-pins', '-q'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      guard.stdout!.once('data', () => resolve());
      guard.once('exit', (c) => reject(new Error(`guard exited ${c}`)));
    });
  });
  after(() => {
    guard?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('260 held streams and 100 Solves of 3.5 MiB: the guard\'s RSS grows by far less than the Solves', async () => {
    const c = await openGrpc(sock);
    try {
      const start = rssMiB(guard.pid!);
      for (let i = 0; i < 260; i++) {
        const req = c.session.request(
          {
            ':method': 'POST',
            ':path': '/moby.buildkit.v1.Control/Session',
            'content-type': 'application/grpc',
            te: 'trailers',
            'x-docker-expose-session-uuid': `nstgrpcmem${Date.now()}x${i}`,
            'x-docker-expose-session-name': 'x',
            'x-docker-expose-session-sharedkey': 'x',
          },
          { endStream: false },
        );
        req.on('error', () => undefined);
        req.resume();
      }
      await new Promise((r) => setTimeout(r, 1500));
      const big = 'A'.repeat(3.5 * 1024 * 1024);
      const n = 100;
      for (let i = 0; i < n; i++) {
        const req = c.session.request({ ':method': 'POST', ':path': '/moby.buildkit.v1.Control/Solve', 'content-type': 'application/grpc', te: 'trailers' });
        req.on('error', () => undefined);
        req.resume();
        // not awaited: streams over the guard's limit wait in this client, not in the guard
        req.end(frame(solveRequest({ ref: `nstbig${i}`, frontend: 'dockerfile.v0', frontendAttrs: { 'build-arg:X': big } })));
      }
      await new Promise((r) => setTimeout(r, 4000));
      const grown = rssMiB(guard.pid!) - start;
      // 350 MiB were sent; the budget is 8 MiB per connection
      assert.ok(grown < 120, `the guard's RSS grew by ${grown.toFixed(0)} MiB`);
    } finally {
      c.close();
    }
  });
});

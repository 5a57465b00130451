/**
 * The test harness' Docker engine: a real dockerd, never a fake.
 *
 * - NESTLING_TEST_DOCKER_HOST=unix:///path set: reuse that live daemon (scripts/test.mjs and .ci/run set it, so
 *   the whole suite shares one daemon and its locally built images).
 * - otherwise: start a private dockerd (own socket, data root, exec root, pidfile; its own bridge when docker0 is
 *   taken), wait for /_ping, and stop it in stop().
 * When the daemon cannot start, the error says why and carries the daemon's log tail: tests fail, never pass
 * silently.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Engine } from '../../src/engine/client.js';
import { parseHostUrl } from '../../src/engine/resolve.js';
import { startPrivateDockerd } from '../../src/engine/local-daemon.js';
import { findNestlingError } from '../../src/util/errors.js';

export interface TestDaemon {
  engine: Engine;
  /** unix:///... */
  url: string;
  socketPath: string;
  /** True when this process started the daemon (and must stop it). */
  owned: boolean;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export const TEST_HOST_ENV = 'NESTLING_TEST_DOCKER_HOST';

let shared: Promise<TestDaemon> | undefined;

/** The daemon for this test process (started once, shared by all tests in the file). */
export function useDockerd(): Promise<TestDaemon> {
  shared ??= startOrReuse();
  return shared;
}

async function startOrReuse(): Promise<TestDaemon> {
  const host = process.env[TEST_HOST_ENV];
  if (host) {
    const ep = parseHostUrl(host, TEST_HOST_ENV);
    const engine = new Engine(ep);
    try {
      await engine.ping(undefined, 10_000);
    } catch (e) {
      throw new Error(`${TEST_HOST_ENV}=${host} does not answer /_ping: ${String(e)}`, { cause: e });
    }
    return {
      engine,
      url: ep.url,
      socketPath: ep.socketPath ?? '',
      owned: false,
      logTail: () => `(reused daemon ${host}: its log is wherever it was started)`,
      stop: async () => {},
    };
  }
  return startDockerd();
}

export async function startDockerd(opts: { dataRoot?: string; extraArgs?: string[] } = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'nst-'));
  try {
    const d = await startPrivateDockerd({ dir, dataRoot: opts.dataRoot, extraArgs: opts.extraArgs });
    return { engine: d.engine, url: d.url, socketPath: d.socketPath, owned: true, logTail: d.logTail, stop: d.stop };
  } catch (e) {
    const ne = findNestlingError(e);
    const tailText = typeof ne?.details.logTail === 'string' ? `\n--- dockerd log tail ---\n${ne.details.logTail}` : '';
    throw new Error(`the test dockerd did not start: ${(e as Error).message}${tailText}`, { cause: e });
  }
}

/** A unique name prefix for one test file/run, so suites can run side by side on one daemon. */
export function uniquePrefix(area: string): string {
  return `nst-${area}-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A private dockerd serving TLS with client certificates on a loopback port (the TLS suites share it). */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startPrivateDockerd, type PrivateDaemon } from '../../src/engine/local-daemon.js';
import { findNestlingError } from '../../src/util/errors.js';

/** A loopback TCP port free at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts dockerd in `dir` with `--tlsverify` and the server material of a dind layout (`serverDir`) on 127.0.0.1:port. */
export async function startTlsDockerd(dir: string, serverDir: string, port: number): Promise<PrivateDaemon> {
  try {
    return await startPrivateDockerd({
      dir,
      extraArgs: [
        '--tlsverify',
        `--tlscacert=${join(serverDir, 'ca.pem')}`,
        `--tlscert=${join(serverDir, 'cert.pem')}`,
        `--tlskey=${join(serverDir, 'key.pem')}`,
        `-H=tcp://127.0.0.1:${port}`,
      ],
    });
  } catch (e) {
    const tail = findNestlingError(e)?.details.logTail;
    throw new Error(`the TLS dockerd did not start: ${(e as Error).message}\n${typeof tail === 'string' ? tail : ''}`, { cause: e });
  }
}

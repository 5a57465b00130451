import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { CliContext } from '../context.js';
import { usageError } from '../../util/errors.js';

export const DEFAULT_SANS = ['docker', 'localhost', '127.0.0.1', '::1'];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseOwner(flag: string, v: string | undefined): { uid: number; gid: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?::(\d+))?$/.exec(v);
  if (!m) throw usageError('E_USAGE_OWNER', `${flag} ${JSON.stringify(v)} is not UID[:GID]`, { hint: `e.g. ${flag} 1000:1000` });
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('certs')
    .description("Write a CA, a server and a client certificate in docker:dind's layout (ca/ server/ client/)")
    .requiredOption('--dir <dir>', 'where to write them (DOCKER_TLS_CERTDIR of the daemon; the client reads <dir>/client)')
    .option('--san <name-or-ip>', `a DNS name or IP address of the server, repeatable (default: ${DEFAULT_SANS.join(', ')})`, collect, [])
    .option('--rsa [bits]', 'RSA keys (2048, or 4096) instead of ECDSA P-256')
    .option('--days <n>', 'validity in days (default 7)')
    .option('--client-owner <uid[:gid]>', 'chown the client directory (a job running as another user)')
    .option('--server-owner <uid[:gid]>', 'chown the server directory (a rootless daemon, uid 1000)')
    .option('--force', 'replace existing certificates')
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        dir: string;
        san: string[];
        rsa?: boolean | string;
        days?: string;
        clientOwner?: string;
        serverOwner?: string;
        force?: boolean;
        json?: boolean;
      }) => {
        const { generateDindCerts, writeDindLayout } = await import('../../tls/index.js');
        let rsaBits: 2048 | 4096 | undefined;
        if (typeof opts.rsa === 'string') {
          if (opts.rsa !== '2048' && opts.rsa !== '4096') {
            throw usageError('E_USAGE_RSA', `--rsa ${opts.rsa}: RSA keys are 2048 or 4096 bits`, { hint: 'use --rsa, --rsa 2048 or --rsa 4096' });
          }
          rsaBits = opts.rsa === '2048' ? 2048 : 4096;
        }
        let validityDays: number | undefined;
        if (opts.days !== undefined) {
          if (!/^\d+$/.test(opts.days)) throw usageError('E_TLS_BAD_VALIDITY', `--days ${opts.days} is not a whole number of days`, { hint: 'e.g. --days 7' });
          validityDays = Number(opts.days);
        }
        const owners = {
          ...(opts.clientOwner ? { client: parseOwner('--client-owner', opts.clientOwner)! } : {}),
          ...(opts.serverOwner ? { server: parseOwner('--server-owner', opts.serverOwner)! } : {}),
        };
        const dir = resolve(ctx.cwd, opts.dir);
        const t0 = performance.now();
        const bundle = await generateDindCerts({
          sans: opts.san.length ? opts.san : DEFAULT_SANS,
          rsa: opts.rsa !== undefined,
          rsaBits,
          validityDays,
        });
        const ms = Math.round(performance.now() - t0);
        const layout = writeDindLayout(dir, bundle, { force: opts.force, owners });
        const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: layout.clientDir };
        if (opts.json) {
          ctx.out(
            JSON.stringify({
              dir,
              algorithm: bundle.algorithm,
              sans: bundle.sans,
              notBefore: bundle.notBefore.toISOString(),
              notAfter: bundle.notAfter.toISOString(),
              generationMs: ms,
              files: layout.files.map((f) => ({ path: f.path, mode: `0${f.mode.toString(8)}` })),
              env,
            }),
          );
          return;
        }
        ctx.err(`certs: ${bundle.algorithm} CA, server and client in ${dir} (${ms} ms), valid until ${bundle.notAfter.toISOString()}`);
        ctx.err(`certs: server subjectAltNames: ${[...bundle.sans.dns.map((d) => `DNS:${d}`), ...bundle.sans.ips.map((i) => `IP:${i}`)].join(', ')}`);
        for (const f of layout.files) ctx.out(`${f.path}\t0${f.mode.toString(8)}`);
        ctx.err(`certs: the daemon: DOCKER_TLS_CERTDIR=${dir} (reads server/); keep ca/key.pem away from jobs`);
        ctx.err(`certs: the client: export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${layout.clientDir}`);
      },
    );
}

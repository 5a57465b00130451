import type { Outcome } from '../../checks/model.js';
import { readText } from '../../host/fs.js';
import { isLoopback, tcpListeners } from '../../host/net.js';
import { basename, findProcesses, socketInodes } from '../../host/processes.js';
import type { AuditCheck } from '../context.js';

/** The -H/--host values and TLS flags of a dockerd command line. */
export function dockerdListeners(argv: string[]): { hosts: string[]; tls: boolean; tlsverify: boolean } {
  const hosts: string[] = [];
  let tls = false;
  let tlsverify = false;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^(?:-H|--host)(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[1] ?? argv[++i];
      if (v) hosts.push(v);
    } else if (/^-H./.test(a)) hosts.push(a.slice(2));
    else if (a === '--tlsverify' || a === '--tlsverify=true') tlsverify = true;
    else if (a === '--tls' || a === '--tls=true') tls = true;
  }
  return { hosts, tls: tls || tlsverify, tlsverify };
}

function tcpAddress(h: string): { host: string; port: number } | undefined {
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]*)(?::(\d+))?/.exec(h);
  if (!m) return undefined;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, '') || '0.0.0.0', port: m[2] ? Number(m[2]) : 2375 };
}

/**
 * Engines listening on TCP without TLS: the scanned endpoint itself, dockerd processes on this machine (their
 * command line and /etc/docker/daemon.json), and sockets listening on 2375.
 */
export const tcpDaemonCheck: AuditCheck = {
  id: 'tcp-without-tls',
  group: 'engine',
  title: 'engine on TCP without TLS',
  async run(ctx) {
    const out: Outcome[] = [];
    const ep = ctx.engine.endpoint;
    if (ep.kind === 'tcp' && !ep.tls) {
      out.push({
        status: 'fail',
        severity: isLoopback(ep.host ?? '') ? 'high' : 'critical',
        subject: ep.url,
        found: `the scanned engine answers on ${ep.url} without TLS`,
        why: 'anyone who can reach the port is root on the engine host: no authentication at all',
        fix: 'listen on a unix socket, or use --tlsverify with client certificates',
      });
    }
    if (!ctx.scanHost) return out;
    const daemons = await findProcesses(ctx.host, (argv) => basename(argv[0] ?? '') === 'dockerd');
    const reported = new Set<number>();
    for (const d of daemons) {
      const l = dockerdListeners(d.argv);
      for (const h of l.hosts) {
        const a = tcpAddress(h);
        if (!a || l.tlsverify) continue;
        reported.add(a.port);
        const loop = isLoopback(a.host);
        out.push({
          status: 'fail',
          severity: l.tls ? (loop ? 'medium' : 'high') : loop ? 'high' : 'critical',
          subject: `dockerd pid ${d.pid}`,
          found: `dockerd (pid ${d.pid}) listens on ${h} ${l.tls ? 'with --tls but without --tlsverify (no client authentication)' : 'without TLS'}${loop ? ' (loopback: every local user and every --network=host container can reach it)' : ''}`,
          why: 'the Docker API has no authentication of its own: whoever connects is root on this host',
          fix: 'remove the tcp:// listener, or add --tlsverify --tlscacert --tlscert --tlskey',
          details: { pid: d.pid, host: h, tls: l.tls },
        });
      }
    }
    const cfg = await readText(ctx.host, '/etc/docker/daemon.json', 256 * 1024);
    if (cfg.ok) {
      try {
        const j = JSON.parse(cfg.value) as { hosts?: unknown; tlsverify?: unknown; tls?: unknown };
        const hosts = Array.isArray(j.hosts) ? j.hosts.filter((h): h is string => typeof h === 'string') : [];
        for (const h of hosts) {
          const a = tcpAddress(h);
          if (!a || j.tlsverify === true || reported.has(a.port)) continue;
          reported.add(a.port);
          out.push({
            status: 'fail',
            severity: isLoopback(a.host) ? 'high' : 'critical',
            subject: '/etc/docker/daemon.json',
            found: `/etc/docker/daemon.json configures "hosts": ${h} without "tlsverify": true`,
            why: 'the daemon serves its unauthenticated API on TCP',
            fix: 'remove the tcp:// entry or set "tlsverify": true with certificates',
          });
        }
      } catch {
        /* not JSON: dockerd itself refuses to start with it */
      }
    }
    const { listeners } = await tcpListeners(ctx.host);
    for (const l of listeners.filter((x) => x.port === 2375 && !reported.has(x.port))) {
      let owner = '';
      for (const d of daemons) if ((await socketInodes(ctx.host, d.pid)).has(l.inode)) owner = ` by dockerd pid ${d.pid}`;
      out.push({
        status: 'fail',
        severity: isLoopback(l.address) ? 'medium' : 'high',
        subject: `${l.address}:2375`,
        found: `something listens on ${l.address}:2375${owner}, Docker's plain-TCP port`,
        why: 'if it is a Docker engine, it has no TLS: root on the host for anyone who connects',
        fix: `check it (curl http://${isLoopback(l.address) ? l.address.replace(/^::ffff:/, '') : '<host>'}:2375/version) and close it`,
        details: { address: l.address, port: 2375, inode: l.inode },
      });
    }
    return out;
  },
};

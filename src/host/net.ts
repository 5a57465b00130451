/** Network facts: the default route and its MTU, and TCP listening sockets (/proc/net/tcp, tcp6). */
import { readText, readTrimmed, type HostRoot } from './fs.js';

export interface RouteEntry {
  iface: string;
  destination: string;
  gateway: string;
  mask: string;
}

export function parseRoutes(text: string): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    out.push({ iface: f[0]!, destination: f[1]!, gateway: f[2]!, mask: f[7]! });
  }
  return out;
}

export interface DefaultRoute {
  iface: string | undefined;
  mtu: number | undefined;
  reason: string;
}

export async function defaultRouteMtu(h: HostRoot): Promise<DefaultRoute> {
  const r = await readText(h, '/proc/net/route');
  if (!r.ok) return { iface: undefined, mtu: undefined, reason: `cannot read /proc/net/route: ${r.error}` };
  const def = parseRoutes(r.value).find((e) => e.destination === '00000000' && e.mask === '00000000');
  if (!def) return { iface: undefined, mtu: undefined, reason: 'no IPv4 default route' };
  const m = await readTrimmed(h, `/sys/class/net/${def.iface}/mtu`);
  if (!m.ok || !/^\d+$/.test(m.value)) return { iface: def.iface, mtu: undefined, reason: `cannot read the MTU of ${def.iface}: ${m.ok ? 'not a number' : m.error}` };
  return { iface: def.iface, mtu: Number(m.value), reason: `default route via ${def.iface}` };
}

export interface TcpListener {
  address: string;
  port: number;
  family: 4 | 6;
  inode: number;
  uid: number;
}

function hexToIpv4(hex: string): string {
  // /proc/net/tcp prints the address as a host-order (little-endian here) 32-bit word.
  const b = Buffer.from(hex, 'hex');
  return [b[3], b[2], b[1], b[0]].join('.');
}

function hexToIpv6(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 4) {
    const w = Buffer.from([b[i + 3]!, b[i + 2]!, b[i + 1]!, b[i]!]);
    words.push(w.subarray(0, 2).toString('hex'), w.subarray(2, 4).toString('hex'));
  }
  const s = words.map((w) => w.replace(/^0+(?=.)/, '')).join(':');
  if (s === '0:0:0:0:0:0:0:0') return '::';
  if (s === '0:0:0:0:0:0:0:1') return '::1';
  const v4 = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(s);
  if (v4) {
    const a = parseInt(v4[1]!, 16);
    const c = parseInt(v4[2]!, 16);
    return `::ffff:${a >> 8}.${a & 255}.${c >> 8}.${c & 255}`;
  }
  return s;
}

export function parseProcNetTcp(text: string, family: 4 | 6): TcpListener[] {
  const out: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
    const [addr, port] = (f[1] ?? '').split(':');
    if (!addr || !port) continue;
    out.push({
      address: family === 4 ? hexToIpv4(addr) : hexToIpv6(addr),
      port: parseInt(port, 16),
      family,
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

export async function tcpListeners(h: HostRoot): Promise<{ listeners: TcpListener[]; errors: string[] }> {
  const listeners: TcpListener[] = [];
  const errors: string[] = [];
  for (const [p, fam] of [['/proc/net/tcp', 4], ['/proc/net/tcp6', 6]] as const) {
    const r = await readText(h, p);
    if (r.ok) listeners.push(...parseProcNetTcp(r.value, fam));
    else if (r.code !== 'ENOENT') errors.push(`${p}: ${r.error}`);
  }
  return { listeners, errors };
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

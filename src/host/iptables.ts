/**
 * iptables backends. A nested dockerd programs NAT rules with the iptables binary of its own image; when that
 * binary's backend (legacy or nf_tables) differs from the one whose rules the kernel already holds, container
 * networking breaks in confusing ways.
 */
import { readLink, readText, type HostRoot } from './fs.js';

export type IptablesBackend = 'legacy' | 'nf_tables' | 'unknown';

export interface IptablesFacts {
  /** Backend of the local `iptables` binary (alternatives link, or its --version). */
  binary: IptablesBackend;
  binarySource: string;
  /** Legacy tables loaded in this network namespace (/proc/net/ip_tables_names). */
  legacyTables: string[] | undefined;
}

export function backendFromVersion(out: string): IptablesBackend {
  if (/\(nf_tables\)/.test(out)) return 'nf_tables';
  if (/\(legacy\)/.test(out)) return 'legacy';
  if (/^iptables v1\.[0-6]\./m.test(out)) return 'legacy'; // before 1.8 there was only legacy
  return 'unknown';
}

export async function iptablesFacts(h: HostRoot, versionOutput?: string): Promise<IptablesFacts> {
  let binary: IptablesBackend = 'unknown';
  let binarySource = 'no iptables binary found';
  if (versionOutput) {
    binary = backendFromVersion(versionOutput);
    binarySource = `iptables --version: ${versionOutput.trim().split('\n')[0] ?? ''}`;
  }
  if (binary === 'unknown') {
    const l = await readLink(h, '/etc/alternatives/iptables');
    if (l.ok) {
      binary = /nft/.test(l.value) ? 'nf_tables' : /legacy/.test(l.value) ? 'legacy' : 'unknown';
      binarySource = `/etc/alternatives/iptables -> ${l.value}`;
    }
  }
  const t = await readText(h, '/proc/net/ip_tables_names');
  const legacyTables = t.ok ? t.value.split('\n').map((s) => s.trim()).filter(Boolean) : undefined;
  return { binary, binarySource, legacyTables };
}

/** Linux capabilities: names by bit number (linux/capability.h), and decoding of /proc/<pid>/status masks. */

export const CAP_NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** The capabilities Docker grants a container by default (moby oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
] as const;

export function capName(bit: number): string {
  return CAP_NAMES[bit] ?? `CAP_${bit}`;
}

/** Decodes a hex mask (CapEff: 000001fffeffffff) into capability names, lowest bit first. */
export function decodeCapMask(hex: string): string[] {
  const clean = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(clean)) throw new Error(`not a capability mask: ${JSON.stringify(hex)}`);
  const v = BigInt(`0x${clean}`);
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) if ((v >> BigInt(bit)) & 1n) out.push(capName(bit));
  return out;
}

/** Every capability the kernel knows (0..cap_last_cap). */
export function allCaps(lastCap: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit <= lastCap; bit++) out.push(capName(bit));
  return out;
}

/** Normalises CAP_SYS_ADMIN / sys_admin / SYS_ADMIN to SYS_ADMIN. */
export function normaliseCap(c: string): string {
  return c.trim().toUpperCase().replace(/^CAP_/, '');
}

import type { Outcome, Severity } from '../../checks/model.js';
import { normaliseCap } from '../../host/caps.js';
import { containerLabel, type AuditCheck } from '../context.js';

/** Capabilities that break the container boundary, with why. */
export const DANGEROUS_CAPS: Record<string, { severity: Severity; why: string }> = {
  ALL: { severity: 'critical', why: 'every capability: as good as --privileged without the devices' },
  SYS_ADMIN: { severity: 'high', why: 'mount, namespaces, BPF and much more: the classic escape via cgroup release_agent or mounting host devices' },
  SYS_MODULE: { severity: 'critical', why: 'loads kernel modules: arbitrary code in the host kernel' },
  SYS_PTRACE: { severity: 'high', why: 'traces and injects into processes (all host processes with --pid=host)' },
  DAC_READ_SEARCH: { severity: 'high', why: 'open_by_handle_at reads any host file (the "shocker" escape)' },
  SYS_RAWIO: { severity: 'high', why: 'raw I/O ports and /dev/mem access' },
  BPF: { severity: 'high', why: 'loads BPF programs that read kernel memory' },
  MAC_ADMIN: { severity: 'high', why: 'changes AppArmor/SELinux policy' },
  NET_ADMIN: { severity: 'medium', why: 'reconfigures networking: sniffs or redirects traffic of its network namespace (the host\'s with --network=host)' },
  DAC_OVERRIDE: { severity: 'low', why: 'bypasses file permission checks (in Docker\'s default set; risky with host mounts)' },
  SYS_BOOT: { severity: 'medium', why: 'reboots the host (kexec_load)' },
  SYS_TIME: { severity: 'medium', why: 'sets the host clock (breaks TLS and token validity)' },
  PERFMON: { severity: 'medium', why: 'perf events expose kernel and other-process data' },
  SYSLOG: { severity: 'low', why: 'reads the kernel log (kernel addresses defeat KASLR)' },
  NET_RAW: { severity: 'info', why: 'raw sockets (default in Docker): ARP/DNS spoofing on the bridge' },
};

const RISKY_SECOPT: Record<string, string> = {
  'seccomp=unconfined': 'no seccomp filter: every syscall (keyctl, unshare, mount, bpf, ...) reaches the kernel',
  'apparmor=unconfined': 'no AppArmor profile: mount and /proc writes are no longer blocked',
  'systempaths=unconfined': '/proc and /sys paths the runtime normally masks are visible and writable',
  'label=disable': 'SELinux separation off',
  'label:disable': 'SELinux separation off',
};

/** Dangerous added capabilities, relaxed security options, and host devices. */
export const capabilitiesCheck: AuditCheck = {
  id: 'capabilities',
  group: 'containers',
  title: 'dangerous capability or relaxed confinement',
  async run(ctx) {
    const out: Outcome[] = [];
    for (const c of await ctx.read.containers()) {
      const subject = c.Name.replace(/^\//, '');
      if (c.HostConfig?.Privileged) continue; // reported as privileged
      for (const raw of c.HostConfig?.CapAdd ?? []) {
        const cap = normaliseCap(raw);
        const d = DANGEROUS_CAPS[cap];
        if (!d || d.severity === 'info') continue;
        out.push({
          status: d.severity === 'low' ? 'warn' : 'fail',
          severity: d.severity,
          subject,
          found: `${containerLabel(c)} adds CAP_${cap}`,
          why: d.why,
          fix: `drop --cap-add ${cap} (grant the narrowest capability that works)`,
          details: { id: c.Id, image: c.Config?.Image, capability: cap },
        });
      }
      for (const opt of c.HostConfig?.SecurityOpt ?? []) {
        const key = opt.replace(/:/, '=').toLowerCase();
        const why = RISKY_SECOPT[key] ?? RISKY_SECOPT[opt.toLowerCase()];
        if (!why) continue;
        out.push({ status: 'fail', severity: 'medium', subject, found: `${containerLabel(c)} runs with --security-opt ${opt}`, why, fix: `remove --security-opt ${opt}`, details: { id: c.Id, securityOpt: opt } });
      }
      for (const dev of c.HostConfig?.Devices ?? []) {
        const p = dev.PathOnHost ?? '';
        if (!p || /^\/dev\/(fuse|net\/tun|null|zero|urandom|random)$/.test(p)) continue;
        out.push({ status: 'fail', severity: /^\/dev\/(sd|nvme|vd|xvd|mem|kmem|port|dm-|mapper)/.test(p) ? 'high' : 'medium', subject, found: `${containerLabel(c)} has the host device ${p}`, why: 'raw device access bypasses file permissions on the host', fix: `remove --device ${p}`, details: { id: c.Id, device: p } });
      }
    }
    return out;
  },
};

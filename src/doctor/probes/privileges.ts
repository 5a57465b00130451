import { DOCKER_DEFAULT_CAPS } from '../../host/caps.js';
import { capabilityFacts } from '../../host/process.js';
import { lsmFacts } from '../../host/lsm.js';
import { maskedPaths } from '../../host/mountinfo.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

const SECCOMP = ['disabled', 'strict', 'filter'];

/** Am I privileged: effective and bounding capabilities, seccomp, no_new_privs, AppArmor/SELinux, masked paths. */
export const privilegesProbe: Probe = {
  id: 'privileges',
  group: Groups.where,
  title: 'privileges of this process',
  provides: [Facts.capabilities.name, Facts.lsm.name, Facts.seccomp.name],
  async run(ctx) {
    const st = await ctx.read.status();
    const { lastCap } = await ctx.read.lastCap();
    const caps = capabilityFacts(st, lastCap);
    setFact(ctx.facts, Facts.capabilities, caps);
    if (st.seccomp !== undefined) setFact(ctx.facts, Facts.seccomp, st.seccomp);
    const lsm = await lsmFacts(ctx.host);
    setFact(ctx.facts, Facts.lsm, lsm);
    const mounts = await ctx.read.mounts().catch(() => undefined);
    const masks = mounts ? maskedPaths(mounts) : undefined;
    const eff = new Set(caps.effective);
    const fullBounding = caps.missingFromBounding.length === 0;
    const allButMissing = caps.all.every((c) => eff.has(c) || caps.missingFromBounding.includes(c));
    const isDefaultSet = caps.effective.length === DOCKER_DEFAULT_CAPS.length && DOCKER_DEFAULT_CAPS.every((c) => eff.has(c));
    const confinement: string[] = [];
    if (st.seccomp !== undefined) confinement.push(`seccomp ${SECCOMP[st.seccomp] ?? st.seccomp}`);
    if (st.noNewPrivs) confinement.push('no_new_privs');
    if (lsm.apparmorProfile) confinement.push(`AppArmor ${lsm.apparmorProfile}`);
    if (lsm.selinuxLabel) confinement.push(`SELinux ${lsm.selinuxLabel}`);
    if (masks) confinement.push(masks.masked.length ? `${masks.masked.length} masked paths (${masks.masked.slice(0, 3).join(', ')}${masks.masked.length > 3 ? ', ...' : ''})` : 'no masked /proc or /sys paths');
    let verdict: string;
    const unconfined = st.seccomp === 0 && (!masks || masks.masked.length === 0) && !lsm.apparmorProfile?.includes('enforce');
    if (st.uid === 0 && fullBounding && allButMissing && unconfined) verdict = 'privileged (every capability, no seccomp, no masked paths)';
    else if (st.uid === 0 && allButMissing && unconfined) verdict = `privileged-equivalent (every capability the bounding set allows; it lacks ${caps.missingFromBounding.join(', ')})`;
    else if (eff.has('SYS_ADMIN')) verdict = 'partly privileged (CAP_SYS_ADMIN)';
    else if (isDefaultSet) verdict = "unprivileged (Docker's default capability set)";
    else if (caps.effective.length === 0) verdict = 'unprivileged (no effective capabilities)';
    else verdict = `custom capability set (${caps.effective.length} capabilities)`;
    return {
      status: 'ok',
      found: `uid ${st.uid}, ${verdict}; ${confinement.join(', ')}`,
      details: {
        uid: st.uid,
        gid: st.gid,
        groups: st.groups,
        effective: caps.effective,
        bounding: caps.bounding,
        missingFromBounding: caps.missingFromBounding,
        seccomp: st.seccomp,
        noNewPrivs: st.noNewPrivs,
        apparmor: lsm.apparmorProfile,
        selinux: lsm.selinuxLabel,
        maskedPaths: masks?.masked,
        readOnlyPaths: masks?.readOnly,
      },
    };
  },
};

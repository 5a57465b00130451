import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runDoctor } from '../doctor.js';
import { engineKindProbe } from './engine-kind.js';
import { Facts, setFact, type EngineFacts } from '../facts.js';
import type { Probe } from '../probe.js';
import type { DoctorEnvironment } from '../context.js';

// Unit test of the classification only: the answers below are what each engine's /version and /info report
// (this host has only rootful Docker; rootless Docker is proven in test/integration/doctor/doctor-in-mode-jobs).
async function kindOf(engine: Partial<EngineFacts>): Promise<unknown> {
  const feed: Probe = {
    id: 'feed',
    group: 'g',
    title: 'feed',
    provides: [Facts.engine.name, Facts.container.name],
    run: (ctx) => {
      setFact(ctx.facts, Facts.engine, { reachable: true, reason: '', endpoint: 'unix:///x', ...engine });
      return Promise.resolve({ status: 'ok', found: '' });
    },
  };
  const env = { host: { root: '/nonexistent' }, env: {}, home: '/', resolve: () => { throw new Error('unused'); }, exec: () => Promise.reject(new Error('unused')), now: () => new Date(), engineTimeoutMs: 100, probeContainers: false, images: 'local', dockerVersion: '28' } as DoctorEnvironment;
  const r = await runDoctor(env, { probes: [feed, engineKindProbe], timeoutMs: 1000 });
  return r.findings.find((f) => f.id === 'engine-kind')?.details?.kind;
}

describe('engine kind', () => {
  it('Docker, rootless Docker, Podman (rootless or not), Docker Desktop', async () => {
    assert.equal(await kindOf({ serverVersion: '20.10.24', operatingSystem: 'Debian GNU/Linux 12 (bookworm)', securityOptions: ['name=seccomp,profile=default'] }), 'docker');
    assert.equal(await kindOf({ securityOptions: ['name=seccomp,profile=default', 'name=rootless', 'name=cgroupns'] }), 'rootless-docker');
    assert.equal(await kindOf({ components: ['Podman Engine'], securityOptions: ['name=rootless'] }), 'rootless-podman');
    assert.equal(await kindOf({ components: ['Podman Engine'], securityOptions: [] }), 'podman');
    assert.equal(await kindOf({ operatingSystem: 'Docker Desktop', securityOptions: ['name=seccomp,profile=unconfined'] }), 'docker-desktop');
  });
});

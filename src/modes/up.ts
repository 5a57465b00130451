/**
 * `nestling up`: a long-lived inner engine for a CI runner on this host (dind, rootless, sysbox), and
 * `nestling down`: its removal. The engine carries the name label and pid "none", so reapers leave it alone.
 * The runner reaches it on a loopback port with TLS; the client certificate is written to a directory only the
 * user can read (keys 0600). Jobs the runner starts in containers can join the engine's network and use
 * tcp://docker:2376 with the same certificates.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/client.js';
import { EngineError, usageError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import { deploy, teardown, type Deployment } from './apply.js';
import { listContainers, listNetworks, listVolumes } from './engine-ops.js';
import { NO_PID, ownerFor, reapRun, type ReapRunReport } from './reaper.js';
import { checkImages, prepareRun, type RunDeps } from './run.js';
import type { RunOptions } from './types.js';

export interface UpResult {
  name: string;
  runId: string;
  mode: string;
  /** what a runner on this host exports */
  env: Record<string, string>;
  /** the network a runner's job containers join to reach the engine as `docker` */
  network: string | undefined;
  certDir: string;
  readyMs: number;
  relaxed: { what: string; why: string }[];
  warnings: string[];
}

export function validateName(name: string): string {
  if (!/^[a-z0-9][a-z0-9_.-]{0,40}$/.test(name)) {
    throw usageError('E_UP_NAME', `invalid name ${JSON.stringify(name)}`, { hint: 'use 1-41 characters: lowercase letters, digits, . _ - (starting with a letter or digit)' });
  }
  return name;
}

export async function upEngine(engine: Engine, opts: RunOptions & { name: string }, deps: RunDeps & { certDir: string }): Promise<UpResult> {
  const name = validateName(opts.name);
  if (opts.guard) throw usageError('E_UP_GUARD', '`nestling up` cannot keep the guard running after it exits', { hint: 'run `nestling guard --upstream ...` as a service in front of the engine' });
  const existing = await listContainers(engine, [`${Labels.name}=${name}`]);
  if (existing.length) {
    throw usageError('E_UP_EXISTS', `an engine named ${name} is already up`, { hint: `nestling down --name ${name}` });
  }
  const { plan } = await prepareRun(engine, { ...opts, runId: name, cmd: [] }, { ...deps, pidLabel: NO_PID });
  if (plan.mode === 'dood' || plan.mode === 'guarded') {
    throw usageError('E_UP_MODE', `\`nestling up\` is for modes with an inner engine (dind, rootless, sysbox), not ${plan.mode}`, {
      hint: plan.mode === 'guarded' ? 'run `nestling guard` as a service' : 'the host socket needs no `up`',
    });
  }
  plan.containers = plan.containers.filter((c) => c.role !== 'job');
  await checkImages(engine, plan, opts.images, deps.signal);
  let dep: Deployment | undefined;
  try {
    dep = await deploy(engine, plan, { progress: deps.progress, signal: deps.signal, issueCerts: deps.issueCerts, hostname: deps.hostname });
  } catch (e) {
    await teardown(engine, dep ?? { plan });
    throw e;
  }
  if (!dep.daemon || !dep.certs) throw new Error('the inner daemon did not come up');
  mkdirSync(deps.certDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(deps.certDir, 'ca.pem'), dep.certs.ca.cert, { mode: 0o644 });
  writeFileSync(join(deps.certDir, 'cert.pem'), dep.certs.client.cert, { mode: 0o644 });
  writeFileSync(join(deps.certDir, 'key.pem'), dep.certs.client.key, { mode: 0o600 });
  return {
    name,
    runId: plan.runId,
    mode: plan.mode,
    env: { DOCKER_HOST: dep.daemon.endpoint.url, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: deps.certDir },
    network: plan.networks[0]?.name,
    certDir: deps.certDir,
    readyMs: dep.daemon.readyMs,
    relaxed: plan.relaxed,
    warnings: plan.warnings,
  };
}

export interface UpListing {
  name: string;
  runId: string;
  mode: string | undefined;
  containers: string[];
}

export async function listUp(engine: Engine): Promise<UpListing[]> {
  const byName = new Map<string, UpListing>();
  for (const c of await listContainers(engine, [Labels.name])) {
    const l = c.Labels ?? {};
    const name = l[Labels.name]!;
    const e = byName.get(name) ?? { name, runId: l[Labels.run] ?? '', mode: l[Labels.mode], containers: [] };
    e.containers.push((c.Names[0] ?? c.Id).replace(/^\//, ''));
    byName.set(name, e);
  }
  return [...byName.values()];
}

/** Removes the engine `name` (its containers, network, non-cache volumes) and its client certificates. */
export async function downEngine(engine: Engine, name: string, certDir: string): Promise<ReapRunReport> {
  validateName(name);
  const sel = [`${Labels.name}=${name}`];
  const found =
    (await listContainers(engine, sel)).length + (await listNetworks(engine, sel)).length + (await listVolumes(engine, sel)).filter((v) => v.Labels?.[Labels.role] !== 'cache').length;
  if (found === 0) {
    throw new EngineError(`no engine named ${name} is up`, { code: 'E_DOWN_NOT_FOUND', statusCode: 404, hint: '`nestling up --list` shows what is up' });
  }
  const report = await reapRun(engine, name, ownerFor(name));
  rmSync(certDir, { recursive: true, force: true });
  return report;
}

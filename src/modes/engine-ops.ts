/**
 * The few engine calls the modes make, as small functions over Engine.json/call (no policy here).
 */
import type { Engine } from '../engine/client.js';
import { readBody } from '../engine/transport.js';
import { demuxStream } from '../engine/stream/demux.js';
import { PassThrough } from 'node:stream';
import { EngineError } from '../util/errors.js';
import { makeTar, type TarEntry } from '../util/tar.js';
import type { ContainerBody } from './types.js';

export async function createContainer(engine: Engine, name: string, body: ContainerBody, signal?: AbortSignal): Promise<string> {
  const r = await engine.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body, signal });
  return r.Id;
}

export async function startContainer(engine: Engine, id: string, signal?: AbortSignal): Promise<void> {
  await engine.call({ method: 'POST', path: `/containers/${encodeURIComponent(id)}/start`, signal });
}

/** Removes a container with its anonymous volumes (v=1); a container already gone is fine. */
export async function removeContainer(engine: Engine, id: string): Promise<void> {
  try {
    await engine.call({ method: 'DELETE', path: `/containers/${encodeURIComponent(id)}`, query: { force: true, v: true } });
  } catch (e) {
    if (e instanceof EngineError && e.statusCode === 404) return;
    // 409 "removal already in progress": the engine is removing it anyway
    if (e instanceof EngineError && e.statusCode === 409 && /already in progress/i.test(e.engineMessage ?? '')) return;
    throw e;
  }
}

export async function removeNetwork(engine: Engine, id: string): Promise<void> {
  try {
    await engine.call({ method: 'DELETE', path: `/networks/${encodeURIComponent(id)}` });
  } catch (e) {
    if (e instanceof EngineError && e.statusCode === 404) return;
    throw e;
  }
}

export async function removeVolume(engine: Engine, name: string): Promise<void> {
  try {
    await engine.call({ method: 'DELETE', path: `/volumes/${encodeURIComponent(name)}`, query: { force: true } });
  } catch (e) {
    if (e instanceof EngineError && e.statusCode === 404) return;
    throw e;
  }
}

export async function createNetwork(engine: Engine, name: string, labels: Record<string, string>, options: Record<string, string>, signal?: AbortSignal): Promise<string> {
  const r = await engine.json<{ Id: string }>({
    method: 'POST',
    path: '/networks/create',
    body: { Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels, Options: options },
    signal,
  });
  return r.Id;
}

export async function createVolume(engine: Engine, name: string, labels: Record<string, string>, signal?: AbortSignal): Promise<void> {
  await engine.json({ method: 'POST', path: '/volumes/create', body: { Name: name, Labels: labels }, signal });
}

/** Writes files into a (created, not yet started) container: PUT /containers/{id}/archive with a tar at `/`. */
export async function putFiles(engine: Engine, id: string, entries: TarEntry[], signal?: AbortSignal): Promise<void> {
  await engine.call({
    method: 'PUT',
    path: `/containers/${encodeURIComponent(id)}/archive`,
    query: { path: '/' },
    headers: { 'content-type': 'application/x-tar' },
    body: makeTar(entries),
    signal,
  });
}

export async function waitContainer(engine: Engine, id: string, signal?: AbortSignal): Promise<number> {
  const r = await engine.json<{ StatusCode: number; Error?: { Message?: string } | null }>({
    method: 'POST',
    path: `/containers/${encodeURIComponent(id)}/wait`,
    signal,
  });
  return r.StatusCode;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string> | null;
  State: string;
  Created: number;
}

export async function listContainers(engine: Engine, labelFilters: string[], signal?: AbortSignal): Promise<ContainerSummary[]> {
  return engine.json<ContainerSummary[]>({
    method: 'GET',
    path: '/containers/json',
    query: { all: true, filters: JSON.stringify({ label: labelFilters }) },
    signal,
  });
}

export interface NetworkSummary {
  Id: string;
  Name: string;
  Labels: Record<string, string> | null;
  Created: string;
}

export async function listNetworks(engine: Engine, labelFilters: string[], signal?: AbortSignal): Promise<NetworkSummary[]> {
  return engine.json<NetworkSummary[]>({ method: 'GET', path: '/networks', query: { filters: JSON.stringify({ label: labelFilters }) }, signal });
}

export interface VolumeSummary {
  Name: string;
  Mountpoint?: string | undefined;
  Labels: Record<string, string> | null;
  CreatedAt?: string | undefined;
  UsageData?: { Size: number; RefCount: number } | null;
}

export async function listVolumes(engine: Engine, labelFilters: string[], signal?: AbortSignal): Promise<VolumeSummary[]> {
  const r = await engine.json<{ Volumes: VolumeSummary[] | null }>({
    method: 'GET',
    path: '/volumes',
    query: { filters: JSON.stringify({ label: labelFilters }) },
    signal,
  });
  return r.Volumes ?? [];
}

export async function imageExists(engine: Engine, ref: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await engine.json({ method: 'GET', path: `/images/${encodeURIComponent(ref)}/json`, signal });
    return true;
  } catch (e) {
    if (e instanceof EngineError && e.statusCode === 404) return false;
    throw e;
  }
}

export interface ProbeResult {
  /** the start error when the container could not start (e.g. runc "unable to apply caps") */
  startError?: EngineError | undefined;
  exitCode: number;
  output: string;
}

/**
 * Runs a short-lived probe container to learn a fact empirically (can this engine grant X?), and removes it.
 * The container carries `labels` so a reaper finds it if nestling dies mid-probe.
 */
export async function runProbe(engine: Engine, name: string, body: ContainerBody, signal?: AbortSignal): Promise<ProbeResult> {
  const id = await createContainer(engine, name, body, signal);
  try {
    try {
      await startContainer(engine, id, signal);
    } catch (e) {
      if (e instanceof EngineError) return { startError: e, exitCode: -1, output: '' };
      throw e;
    }
    const exitCode = await waitContainer(engine, id, signal);
    const res = await engine.request({ method: 'GET', path: `/containers/${id}/logs`, query: { stdout: true, stderr: true }, signal });
    let output = '';
    if (body.Tty) output = (await readBody(res)).toString('utf8');
    else {
      const sink = new PassThrough();
      sink.on('data', (c: Buffer) => (output += c.toString('utf8')));
      await demuxStream(res, sink, sink);
    }
    return { exitCode, output };
  } finally {
    await removeContainer(engine, id);
  }
}

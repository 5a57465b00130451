/** Container endpoints (API v1.41 swagger, "Container" tag): the status tables and typed calls. */
import type { Readable } from 'node:stream';
import type { Engine } from '../client.js';
import type { ContainerCreateBody, ContainerCreateResponse, ContainerInspect, ContainerSummary, Filters, WaitResponse } from '../types/api.js';
import { hijack, type HijackedStream } from '../stream/hijack.js';
import { S, errorRows, filtersQuery, send, sendJson, sendNoBody, type EndpointSpec } from './spec.js';

export const ContainerEndpoints = {
  create: {
    id: 'container.create',
    method: 'POST',
    path: '/containers/create',
    status: {
      201: S.ok('created'),
      400: S.badParam,
      404: S.noSuchImage,
      409: S.fail('E_ENGINE_CONFLICT', 'the container name is already in use', 'choose another name, or remove the old container'),
      500: S.server,
    },
  },
  inspect: { id: 'container.inspect', method: 'GET', path: '/containers/{id}/json', status: { 200: S.ok('inspected'), 404: S.noSuchContainer, 500: S.server } },
  list: { id: 'container.list', method: 'GET', path: '/containers/json', status: { 200: S.ok('listed'), 400: S.badParam, 500: S.server } },
  start: {
    id: 'container.start',
    method: 'POST',
    path: '/containers/{id}/start',
    status: { 204: S.ok('started'), 304: S.ok('already started'), 404: S.noSuchContainer, 500: S.server },
  },
  stop: {
    id: 'container.stop',
    method: 'POST',
    path: '/containers/{id}/stop',
    status: { 204: S.ok('stopped'), 304: S.ok('already stopped'), 404: S.noSuchContainer, 500: S.server },
  },
  kill: {
    id: 'container.kill',
    method: 'POST',
    path: '/containers/{id}/kill',
    status: { 204: S.ok('killed'), 404: S.noSuchContainer, 409: S.fail('E_ENGINE_CONFLICT', 'the container is not running'), 500: S.server },
  },
  wait: {
    id: 'container.wait',
    method: 'POST',
    path: '/containers/{id}/wait',
    status: { 200: S.ok('exited'), 400: S.badParam, 404: S.noSuchContainer, 500: S.server },
  },
  logs: { id: 'container.logs', method: 'GET', path: '/containers/{id}/logs', status: { 200: S.ok('logs'), 404: S.noSuchContainer, 500: S.server } },
  attach: {
    id: 'container.attach',
    method: 'POST',
    path: '/containers/{id}/attach',
    status: { 101: S.ok('upgraded'), 200: S.ok('raw stream'), 400: S.badParam, 404: S.noSuchContainer, 500: S.server },
  },
  remove: {
    id: 'container.remove',
    method: 'DELETE',
    path: '/containers/{id}',
    status: {
      204: S.ok('removed'),
      400: S.badParam,
      404: S.noSuchContainer,
      409: S.fail('E_ENGINE_CONFLICT', 'the container is running or being removed', 'stop it first, or remove with force'),
      500: S.server,
    },
  },
} as const satisfies Record<string, EndpointSpec>;

export interface CreateContainerOptions {
  name?: string | undefined;
  platform?: string | undefined;
  signal?: AbortSignal | undefined;
}

export function createContainer(engine: Engine, body: ContainerCreateBody, opts: CreateContainerOptions = {}): Promise<ContainerCreateResponse> {
  return sendJson<ContainerCreateResponse>(engine, ContainerEndpoints.create, {
    query: { name: opts.name, platform: opts.platform },
    body,
    signal: opts.signal,
  });
}

export function inspectContainer(engine: Engine, id: string, signal?: AbortSignal): Promise<ContainerInspect> {
  return sendJson<ContainerInspect>(engine, ContainerEndpoints.inspect, { params: { id }, signal });
}

export function listContainers(engine: Engine, opts: { all?: boolean; filters?: Filters; signal?: AbortSignal | undefined } = {}): Promise<ContainerSummary[]> {
  return sendJson<ContainerSummary[]>(engine, ContainerEndpoints.list, {
    query: { all: opts.all ? 'true' : undefined, filters: filtersQuery(opts.filters) },
    signal: opts.signal,
  });
}

/** Starts a container; resolves with "started" or "already started" (304). */
export function startContainer(engine: Engine, id: string, signal?: AbortSignal): Promise<string> {
  return sendNoBody(engine, ContainerEndpoints.start, { params: { id }, signal });
}

/** Stops a container (t: seconds before SIGKILL); resolves with "stopped" or "already stopped" (304). */
export function stopContainer(engine: Engine, id: string, opts: { t?: number; signal?: AbortSignal | undefined } = {}): Promise<string> {
  return sendNoBody(engine, ContainerEndpoints.stop, { params: { id }, query: { t: opts.t }, signal: opts.signal });
}

export function killContainer(engine: Engine, id: string, opts: { signalName?: string; signal?: AbortSignal | undefined } = {}): Promise<string> {
  return sendNoBody(engine, ContainerEndpoints.kill, { params: { id }, query: { signal: opts.signalName }, signal: opts.signal });
}

/**
 * Waits for a container to stop (condition not-running, the default; next-exit; removed). Note that the daemon sends
 * the 200 head at once and the body when the container stops, so this resolves only then.
 */
export function waitContainer(
  engine: Engine,
  id: string,
  opts: { condition?: 'not-running' | 'next-exit' | 'removed'; signal?: AbortSignal | undefined } = {},
): Promise<WaitResponse> {
  return sendJson<WaitResponse>(engine, ContainerEndpoints.wait, { params: { id }, query: { condition: opts.condition }, signal: opts.signal });
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: number;
  until?: number;
  timestamps?: boolean;
  tail?: number | 'all';
  signal?: AbortSignal | undefined;
}

/**
 * GET /containers/{id}/logs: the raw body stream (multiplexed frames unless the container has a TTY; read it with
 * demuxStream). With follow, it ends when the container stops.
 */
export async function containerLogs(engine: Engine, id: string, opts: LogsOptions = {}): Promise<Readable> {
  const { res } = await send(engine, ContainerEndpoints.logs, {
    params: { id },
    query: {
      follow: opts.follow ? 'true' : undefined,
      stdout: opts.stdout === false ? undefined : 'true',
      stderr: opts.stderr === false ? undefined : 'true',
      since: opts.since,
      until: opts.until,
      timestamps: opts.timestamps ? 'true' : undefined,
      tail: opts.tail === undefined ? undefined : String(opts.tail),
    },
    signal: opts.signal,
  });
  return res;
}

export interface AttachOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Stream output from now on (default true). */
  stream?: boolean;
  /** Replay the output so far first. */
  logs?: boolean;
  detachKeys?: string;
  /** The 101 upgrade form (default) or the raw 200 form. */
  upgrade?: boolean;
  signal?: AbortSignal | undefined;
}

/** POST /containers/{id}/attach, hijacked: write stdin to `.stream`, `closeWrite()` for EOF, read the output. */
export function attachContainer(engine: Engine, id: string, opts: AttachOptions = {}): Promise<HijackedStream> {
  const b = (v: boolean | undefined, dflt: boolean) => ((v ?? dflt) ? '1' : undefined);
  return hijack(engine, {
    path: `/containers/${encodeURIComponent(id)}/attach`,
    query: {
      stream: b(opts.stream, true),
      stdin: b(opts.stdin, false),
      stdout: b(opts.stdout, true),
      stderr: b(opts.stderr, true),
      logs: b(opts.logs, false),
      detachKeys: opts.detachKeys,
    },
    upgrade: opts.upgrade,
    signal: opts.signal,
    errors: errorRows(ContainerEndpoints.attach),
  });
}

export function removeContainer(
  engine: Engine,
  id: string,
  opts: { force?: boolean; volumes?: boolean; signal?: AbortSignal | undefined } = {},
): Promise<string> {
  return sendNoBody(engine, ContainerEndpoints.remove, {
    params: { id },
    query: { force: opts.force ? 'true' : undefined, v: opts.volumes ? 'true' : undefined },
    signal: opts.signal,
  });
}

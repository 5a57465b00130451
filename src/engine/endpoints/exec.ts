/** Exec endpoints (API v1.41 swagger, "Exec" tag). */
import type { Engine } from '../client.js';
import type { ExecCreateBody, ExecInspect, ExecStartBody } from '../types/api.js';
import { hijack, type HijackedStream } from '../stream/hijack.js';
import { S, errorRows, sendJson, sendNoBody, type EndpointSpec } from './spec.js';

export const ExecEndpoints = {
  create: {
    id: 'exec.create',
    method: 'POST',
    path: '/containers/{id}/exec',
    status: { 201: S.ok('created'), 400: S.badParam, 404: S.noSuchContainer, 409: S.fail('E_ENGINE_CONFLICT', 'the container is paused or not running', 'start (or unpause) the container first'), 500: S.server },
  },
  start: {
    id: 'exec.start',
    method: 'POST',
    path: '/exec/{id}/start',
    status: {
      101: S.ok('upgraded'),
      200: S.ok('started'),
      204: S.ok('started (detached)'),
      404: S.noSuchExec,
      409: S.fail('E_ENGINE_CONFLICT', 'the container is stopped or paused, or the exec already ran'),
      500: S.server,
    },
  },
  inspect: { id: 'exec.inspect', method: 'GET', path: '/exec/{id}/json', status: { 200: S.ok('inspected'), 404: S.noSuchExec, 500: S.server } },
  resize: { id: 'exec.resize', method: 'POST', path: '/exec/{id}/resize', status: { 200: S.ok('resized'), 201: S.ok('resized'), 400: S.badParam, 404: S.noSuchExec, 500: S.server } },
} as const satisfies Record<string, EndpointSpec>;

export async function execCreate(engine: Engine, containerId: string, body: ExecCreateBody, signal?: AbortSignal): Promise<{ Id: string }> {
  return sendJson<{ Id: string }>(engine, ExecEndpoints.create, { params: { id: containerId }, body, signal });
}

/**
 * Starts an exec attached: the hijacked stream (101 upgrade by default, or the raw 200 form with upgrade: false).
 * Multiplexed frames unless `tty`. The exit code comes from execInspect once the stream has ended.
 */
export function execStart(engine: Engine, execId: string, opts: { tty?: boolean; upgrade?: boolean; signal?: AbortSignal | undefined } = {}): Promise<HijackedStream> {
  const body: ExecStartBody = { Detach: false, Tty: opts.tty ?? false };
  return hijack(engine, { path: `/exec/${encodeURIComponent(execId)}/start`, body, upgrade: opts.upgrade, signal: opts.signal, errors: errorRows(ExecEndpoints.start) });
}

/** Starts an exec detached (no stream). */
export function execStartDetached(engine: Engine, execId: string, signal?: AbortSignal): Promise<string> {
  return sendNoBody(engine, ExecEndpoints.start, { params: { id: execId }, body: { Detach: true, Tty: false } satisfies ExecStartBody, signal });
}

export function execInspect(engine: Engine, execId: string, signal?: AbortSignal): Promise<ExecInspect> {
  return sendJson<ExecInspect>(engine, ExecEndpoints.inspect, { params: { id: execId }, signal });
}

export function execResize(engine: Engine, execId: string, size: { h: number; w: number }, signal?: AbortSignal): Promise<string> {
  return sendNoBody(engine, ExecEndpoints.resize, { params: { id: execId }, query: { h: size.h, w: size.w }, signal });
}

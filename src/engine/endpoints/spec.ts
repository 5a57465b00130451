/**
 * Endpoints as data (docker-modem style): each endpoint declares its method, path template and a status table that
 * says what every documented status means for it (304 on start = already started, 404 = no such container, 409 =
 * conflict...). `send` uses the table both to accept a status and to build the EngineError for one that is not.
 * The tables follow the API v1.41 swagger and were checked against dockerd 20.10 in test/integration/engine.
 */
import type { IncomingMessage } from 'node:http';
import type { Engine } from '../client.js';
import { errorFromResponse, readBody, type RequestOptions } from '../transport.js';
import { EngineError } from '../../util/errors.js';

export type StatusMeaning =
  | { ok: true; meaning: string }
  | { ok: false; code: string; meaning: string; hint?: string | undefined };

export type StatusTable = Readonly<Record<number, StatusMeaning>>;

export interface EndpointSpec {
  /** Stable id, e.g. container.start. */
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** Path template, e.g. /containers/{id}/start. */
  path: string;
  status: StatusTable;
}

const ok = (meaning: string): StatusMeaning => ({ ok: true, meaning });
const fail = (code: string, meaning: string, hint?: string): StatusMeaning => ({ ok: false, code, meaning, hint });

/** Common rows. */
export const S = {
  ok,
  fail,
  badParam: fail('E_ENGINE_BAD_REQUEST', 'bad parameter'),
  server: fail('E_ENGINE_SERVER', 'server error', 'see the daemon log (journalctl -u docker, or dockerd --debug)'),
  noSuchContainer: fail('E_ENGINE_NOT_FOUND', 'no such container'),
  noSuchImage: fail('E_ENGINE_NOT_FOUND', 'no such image', 'build or import it first: nothing is pulled implicitly'),
  noSuchExec: fail('E_ENGINE_NOT_FOUND', 'no such exec instance'),
  noSuchNetwork: fail('E_ENGINE_NOT_FOUND', 'no such network'),
  noSuchVolume: fail('E_ENGINE_NOT_FOUND', 'no such volume'),
  conflict: fail('E_ENGINE_CONFLICT', 'conflict'),
  forbidden: fail('E_ENGINE_FORBIDDEN', 'forbidden', 'a proxy (nestling guard?) or an authorization plugin refused the request'),
} as const;

/** Fills a path template: every {name} must be given; values are URL-encoded. */
export function fillPath(template: string, params: Record<string, string> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined || v === '') throw new TypeError(`endpoint path ${template}: missing {${k}}`);
    return encodeURIComponent(v);
  });
}

/** What a status means for an endpoint (undefined: not in its table). */
export function statusMeaning(spec: EndpointSpec, status: number): StatusMeaning | undefined {
  return spec.status[status];
}

export interface SendOptions extends Omit<RequestOptions, 'method' | 'path'> {
  params?: Record<string, string> | undefined;
}

/**
 * Sends a request for `spec` and returns the response with the table row of its status. A status the table
 * marks as failure (or does not list, outside 2xx) becomes an EngineError with the table's code, the daemon's
 * message and the route.
 */
export async function send(engine: Engine, spec: EndpointSpec, opts: SendOptions = {}): Promise<{ res: IncomingMessage; meaning: string }> {
  const path = fillPath(spec.path, opts.params);
  const res = await engine.request({ ...opts, method: spec.method, path, acceptStatus: () => true });
  const status = res.statusCode ?? 0;
  const row = spec.status[status];
  if (row?.ok || (!row && status >= 200 && status < 300)) return { res, meaning: row?.meaning ?? 'ok' };
  throw await errorFromResponse(res, `${spec.method} ${path}`, row && !row.ok ? row : undefined);
}

/** `send` and parse a JSON answer. */
export async function sendJson<T>(engine: Engine, spec: EndpointSpec, opts: SendOptions = {}): Promise<T> {
  const { res } = await send(engine, spec, opts);
  const buf = await readBody(res, undefined, opts.signal ?? engine.signal);
  if (buf.length === 0) return undefined as T;
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (e) {
    throw new EngineError(`the engine answered ${spec.method} ${spec.path} with invalid JSON`, {
      code: 'E_ENGINE_BAD_RESPONSE',
      cause: e,
      route: `${spec.method} ${spec.path}`,
      details: { sample: buf.subarray(0, 200).toString('utf8') },
    });
  }
}

/** `send`, drain the body, and return the meaning of the status (e.g. "already started"). */
export async function sendNoBody(engine: Engine, spec: EndpointSpec, opts: SendOptions = {}): Promise<string> {
  const { res, meaning } = await send(engine, spec, opts);
  await readBody(res, undefined, opts.signal ?? engine.signal);
  return meaning;
}

/** Serialises filters the way the daemon reads them (a JSON map of string lists). */
export function filtersQuery(filters: Record<string, string[]> | undefined): string | undefined {
  if (!filters) return undefined;
  const nonEmpty = Object.entries(filters).filter(([, v]) => v.length > 0);
  return nonEmpty.length ? JSON.stringify(Object.fromEntries(nonEmpty)) : undefined;
}

/** The failure rows of a status table, as hijack() takes them. */
export function errorRows(spec: EndpointSpec): Record<number, { code: string; meaning: string; hint?: string | undefined }> {
  const out: Record<number, { code: string; meaning: string; hint?: string | undefined }> = {};
  for (const [k, v] of Object.entries(spec.status)) if (!v.ok) out[Number(k)] = v;
  return out;
}

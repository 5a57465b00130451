/** Image endpoints (API v1.41 swagger, "Image" tag): build, import, inspect, list, tag, remove. Nothing pulls. */
import type { Readable } from 'node:stream';
import type { Engine } from '../client.js';
import type { Filters, ImageDeleteItem, ImageInspect, ImageSummary, JsonMessage } from '../types/api.js';
import { followProgress, type ProgressResult } from '../stream/json-lines.js';
import { S, filtersQuery, send, sendJson, sendNoBody, type EndpointSpec } from './spec.js';

export const ImageEndpoints = {
  build: { id: 'image.build', method: 'POST', path: '/build', status: { 200: S.ok('building'), 400: S.badParam, 500: S.server } },
  create: {
    id: 'image.create',
    method: 'POST',
    path: '/images/create',
    status: { 200: S.ok('importing'), 404: S.fail('E_ENGINE_NOT_FOUND', 'repository does not exist or no read access'), 500: S.server },
  },
  inspect: { id: 'image.inspect', method: 'GET', path: '/images/{name}/json', status: { 200: S.ok('inspected'), 404: S.noSuchImage, 500: S.server } },
  list: { id: 'image.list', method: 'GET', path: '/images/json', status: { 200: S.ok('listed'), 500: S.server } },
  tag: {
    id: 'image.tag',
    method: 'POST',
    path: '/images/{name}/tag',
    status: { 201: S.ok('tagged'), 400: S.badParam, 404: S.noSuchImage, 409: S.conflict, 500: S.server },
  },
  remove: {
    id: 'image.remove',
    method: 'DELETE',
    path: '/images/{name}',
    status: {
      200: S.ok('removed'),
      404: S.noSuchImage,
      409: S.fail('E_ENGINE_CONFLICT', 'the image is in use by a container', 'remove the container first, or force'),
      500: S.server,
    },
  },
} as const satisfies Record<string, EndpointSpec>;

export interface BuildImageOptions {
  /** Tags (t=, repeatable). */
  tags?: string[];
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  /** Remove intermediate containers (default true, as the daemon). */
  rm?: boolean;
  forceRm?: boolean;
  noCache?: boolean;
  /** Never pull: nestling's default is false, so a FROM that is not local fails instead of reaching a registry. */
  pull?: boolean;
  /** "1" = classic builder (the default here: BuildKit needs the /session endpoint). */
  version?: '1' | '2';
  onProgress?: (m: JsonMessage) => void;
  signal?: AbortSignal | undefined;
}

export interface BuildResult extends ProgressResult {
  /** The image ID from the aux line ({"aux":{"ID":"sha256:..."}}), if the daemon sent one. */
  imageId: string | undefined;
}

/**
 * POST /build with a tar context (a Buffer or a stream, sent chunked) and follows the JSON progress to the end.
 * A failing step arrives as an `error` line in a 200 stream: it rejects with E_ENGINE_PROGRESS_ERROR.
 */
export async function buildImage(engine: Engine, context: Buffer | Readable, opts: BuildImageOptions = {}): Promise<BuildResult> {
  const { res } = await send(engine, ImageEndpoints.build, {
    query: {
      t: opts.tags,
      dockerfile: opts.dockerfile,
      buildargs: opts.buildArgs ? JSON.stringify(opts.buildArgs) : undefined,
      labels: opts.labels ? JSON.stringify(opts.labels) : undefined,
      rm: opts.rm === false ? 'false' : undefined,
      forcerm: opts.forceRm ? 'true' : undefined,
      nocache: opts.noCache ? 'true' : undefined,
      pull: opts.pull ? 'true' : undefined,
      version: opts.version ?? '1',
    },
    headers: { 'content-type': 'application/x-tar' },
    body: context,
    signal: opts.signal,
  });
  const r = await followProgress(res, opts.onProgress, 'POST /build', opts.signal ?? engine.signal);
  let imageId: string | undefined;
  for (const a of r.aux) {
    const id = (a as { ID?: unknown } | null)?.ID;
    if (typeof id === 'string') imageId = id;
  }
  return { ...r, imageId };
}

export interface ImportImageOptions {
  repo?: string;
  tag?: string;
  /** Dockerfile instructions applied to the imported image (CMD, ENV, LABEL...). */
  changes?: string[];
  message?: string;
  platform?: string;
  onProgress?: (m: JsonMessage) => void;
  signal?: AbortSignal | undefined;
}

/**
 * POST /images/create?fromSrc=- with a rootfs tar (`docker import`). The answer is a progress stream whose last
 * status is the new image ID; an `error` line rejects with E_ENGINE_PROGRESS_ERROR.
 */
export async function importImage(engine: Engine, rootfs: Buffer | Readable, opts: ImportImageOptions = {}): Promise<{ imageId: string | undefined } & ProgressResult> {
  const { res } = await send(engine, ImageEndpoints.create, {
    query: { fromSrc: '-', repo: opts.repo, tag: opts.tag, changes: opts.changes, message: opts.message, platform: opts.platform },
    headers: { 'content-type': 'application/x-tar' },
    body: rootfs,
    signal: opts.signal,
    timeoutMs: 600_000,
  });
  const r = await followProgress(res, opts.onProgress, 'POST /images/create', opts.signal ?? engine.signal);
  const last = [...r.messages].reverse().find((m) => typeof m.status === 'string' && m.status.startsWith('sha256:'));
  return { ...r, imageId: last?.status };
}

export function inspectImage(engine: Engine, name: string, signal?: AbortSignal): Promise<ImageInspect> {
  return sendJson<ImageInspect>(engine, ImageEndpoints.inspect, { params: { name }, signal });
}

export function listImages(engine: Engine, opts: { all?: boolean; filters?: Filters; signal?: AbortSignal | undefined } = {}): Promise<ImageSummary[]> {
  return sendJson<ImageSummary[]>(engine, ImageEndpoints.list, {
    query: { all: opts.all ? 'true' : undefined, filters: filtersQuery(opts.filters) },
    signal: opts.signal,
  });
}

export function tagImage(engine: Engine, name: string, repo: string, tag?: string, signal?: AbortSignal): Promise<string> {
  return sendNoBody(engine, ImageEndpoints.tag, { params: { name }, query: { repo, tag }, signal });
}

export function removeImage(
  engine: Engine,
  name: string,
  opts: { force?: boolean; noPrune?: boolean; signal?: AbortSignal | undefined } = {},
): Promise<ImageDeleteItem[]> {
  return sendJson<ImageDeleteItem[]>(engine, ImageEndpoints.remove, {
    params: { name },
    query: { force: opts.force ? 'true' : undefined, noprune: opts.noPrune ? 'true' : undefined },
    signal: opts.signal,
  });
}

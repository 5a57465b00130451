/** Volume endpoints (API v1.41 swagger, "Volume" tag). */
import type { Engine } from '../client.js';
import type { Filters, Volume, VolumeCreateBody, VolumeList } from '../types/api.js';
import { S, filtersQuery, sendJson, sendNoBody, type EndpointSpec } from './spec.js';

export const VolumeEndpoints = {
  create: { id: 'volume.create', method: 'POST', path: '/volumes/create', status: { 201: S.ok('created'), 500: S.server } },
  inspect: { id: 'volume.inspect', method: 'GET', path: '/volumes/{name}', status: { 200: S.ok('inspected'), 404: S.noSuchVolume, 500: S.server } },
  list: { id: 'volume.list', method: 'GET', path: '/volumes', status: { 200: S.ok('listed'), 500: S.server } },
  remove: {
    id: 'volume.remove',
    method: 'DELETE',
    path: '/volumes/{name}',
    status: { 204: S.ok('removed'), 404: S.noSuchVolume, 409: S.fail('E_ENGINE_CONFLICT', 'the volume is in use', 'remove the containers that use it first'), 500: S.server },
  },
} as const satisfies Record<string, EndpointSpec>;

export function createVolume(engine: Engine, body: VolumeCreateBody, signal?: AbortSignal): Promise<Volume> {
  return sendJson<Volume>(engine, VolumeEndpoints.create, { body, signal });
}

export function inspectVolume(engine: Engine, name: string, signal?: AbortSignal): Promise<Volume> {
  return sendJson<Volume>(engine, VolumeEndpoints.inspect, { params: { name }, signal });
}

export function listVolumes(engine: Engine, opts: { filters?: Filters; signal?: AbortSignal | undefined } = {}): Promise<VolumeList> {
  return sendJson<VolumeList>(engine, VolumeEndpoints.list, { query: { filters: filtersQuery(opts.filters) }, signal: opts.signal });
}

export function removeVolume(engine: Engine, name: string, opts: { force?: boolean; signal?: AbortSignal | undefined } = {}): Promise<string> {
  return sendNoBody(engine, VolumeEndpoints.remove, { params: { name }, query: { force: opts.force ? 'true' : undefined }, signal: opts.signal });
}

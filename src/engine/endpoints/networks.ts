/** Network endpoints (API v1.41 swagger, "Network" tag). */
import type { Engine } from '../client.js';
import type { EndpointSettings, Filters, NetworkCreateBody, NetworkCreateResponse, NetworkInspect } from '../types/api.js';
import { S, filtersQuery, sendJson, sendNoBody, type EndpointSpec } from './spec.js';

export const NetworkEndpoints = {
  create: {
    id: 'network.create',
    method: 'POST',
    path: '/networks/create',
    status: {
      201: S.ok('created'),
      400: S.badParam,
      403: S.fail('E_ENGINE_FORBIDDEN', 'operation not supported for pre-defined networks'),
      404: S.fail('E_ENGINE_NOT_FOUND', 'plugin not found'),
      409: S.fail('E_ENGINE_CONFLICT', 'a network with this name already exists'),
      500: S.server,
    },
  },
  inspect: { id: 'network.inspect', method: 'GET', path: '/networks/{id}', status: { 200: S.ok('inspected'), 404: S.noSuchNetwork, 500: S.server } },
  list: { id: 'network.list', method: 'GET', path: '/networks', status: { 200: S.ok('listed'), 500: S.server } },
  remove: {
    id: 'network.remove',
    method: 'DELETE',
    path: '/networks/{id}',
    status: {
      204: S.ok('removed'),
      // dockerd 20.10 answers 403 both for a pre-defined network and for one with active endpoints (the swagger
      // lists 403 for the former only); test/integration/engine/objects.test.ts proves both.
      403: S.fail('E_ENGINE_FORBIDDEN', 'a pre-defined network, or one with active endpoints', 'disconnect or remove its containers first; bridge, host and none cannot be removed'),
      404: S.noSuchNetwork,
      500: S.server,
    },
  },
  connect: {
    id: 'network.connect',
    method: 'POST',
    path: '/networks/{id}/connect',
    status: {
      200: S.ok('connected'),
      400: S.badParam,
      403: S.fail('E_ENGINE_FORBIDDEN', 'operation not supported for swarm scoped networks'),
      404: S.fail('E_ENGINE_NOT_FOUND', 'network or container not found'),
      500: S.server,
    },
  },
  disconnect: {
    id: 'network.disconnect',
    method: 'POST',
    path: '/networks/{id}/disconnect',
    status: {
      200: S.ok('disconnected'),
      403: S.fail('E_ENGINE_FORBIDDEN', 'operation not supported for swarm scoped networks'),
      404: S.fail('E_ENGINE_NOT_FOUND', 'network or container not found'),
      500: S.server,
    },
  },
} as const satisfies Record<string, EndpointSpec>;

export function createNetwork(engine: Engine, body: NetworkCreateBody, signal?: AbortSignal): Promise<NetworkCreateResponse> {
  return sendJson<NetworkCreateResponse>(engine, NetworkEndpoints.create, { body, signal });
}

export function inspectNetwork(engine: Engine, id: string, signal?: AbortSignal): Promise<NetworkInspect> {
  return sendJson<NetworkInspect>(engine, NetworkEndpoints.inspect, { params: { id }, signal });
}

export function listNetworks(engine: Engine, opts: { filters?: Filters; signal?: AbortSignal | undefined } = {}): Promise<NetworkInspect[]> {
  return sendJson<NetworkInspect[]>(engine, NetworkEndpoints.list, { query: { filters: filtersQuery(opts.filters) }, signal: opts.signal });
}

export function removeNetwork(engine: Engine, id: string, signal?: AbortSignal): Promise<string> {
  return sendNoBody(engine, NetworkEndpoints.remove, { params: { id }, signal });
}

export function connectNetwork(engine: Engine, id: string, container: string, endpointConfig?: EndpointSettings, signal?: AbortSignal): Promise<string> {
  return sendNoBody(engine, NetworkEndpoints.connect, {
    params: { id },
    body: { Container: container, ...(endpointConfig ? { EndpointConfig: endpointConfig } : {}) },
    signal,
  });
}

export function disconnectNetwork(engine: Engine, id: string, container: string, opts: { force?: boolean; signal?: AbortSignal | undefined } = {}): Promise<string> {
  return sendNoBody(engine, NetworkEndpoints.disconnect, { params: { id }, body: { Container: container, Force: opts.force ?? false }, signal: opts.signal });
}

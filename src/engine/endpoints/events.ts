/** GET /events: the daemon's event stream, as an async iterable of typed messages (JSON lines). */
import type { Engine } from '../client.js';
import type { EventMessage, Filters } from '../types/api.js';
import { readJsonLines } from '../stream/json-lines.js';
import { S, filtersQuery, send, type EndpointSpec } from './spec.js';

export const EventEndpoints = {
  events: { id: 'system.events', method: 'GET', path: '/events', status: { 200: S.ok('streaming'), 400: S.badParam, 500: S.server } },
} as const satisfies Record<string, EndpointSpec>;

export interface EventsOptions {
  /** Unix seconds (or a Go duration string such as "10m" relative to now). */
  since?: number | string;
  until?: number | string;
  filters?: Filters;
  /** Required: iteration stops (the connection is destroyed) when it aborts. */
  signal?: AbortSignal | undefined;
}

/**
 * Streams events. Without `until` the stream never ends by itself: abort `signal` (or break out of the loop) to stop.
 * Breaking out of a for-await destroys the connection.
 */
export async function* streamEvents(engine: Engine, opts: EventsOptions = {}): AsyncGenerator<EventMessage> {
  const { res } = await send(engine, EventEndpoints.events, {
    query: {
      since: opts.since === undefined ? undefined : String(opts.since),
      until: opts.until === undefined ? undefined : String(opts.until),
      filters: filtersQuery(opts.filters),
    },
    signal: opts.signal,
  });
  try {
    yield* readJsonLines<EventMessage>(res, opts.signal ?? engine.signal);
  } finally {
    res.destroy();
  }
}

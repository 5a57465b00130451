/** A tiny helper so each area file reads as a table: one line per route. */
import type { RouteDef, RouteKind } from '../types.js';

export type RouteRow = [id: string, method: RouteDef['method'], path: string, kind: RouteKind, body: RouteDef['body']];

export function defineRoutes(area: string, rows: readonly RouteRow[]): readonly RouteDef[] {
  return Object.freeze(rows.map(([id, method, path, kind, body]) => Object.freeze({ id, method, path, area, kind, body })));
}

/**
 * The whole Engine API route table, in moby's registration order (daemon/command/daemon.go buildRouters: checkpoint
 * before container so its DELETE is not masked, then image, system, volume, build, session, swarm, plugin,
 * distribution, network, debug, grpc). gorilla/mux tries routes in that order and the first match wins; match.ts
 * does the same.
 */
import type { RouteDef } from '../types.js';
import { buildRoutes } from './build.js';
import { checkpointRoutes } from './checkpoint.js';
import { containerRoutes } from './container.js';
import { debugRoutes } from './debug.js';
import { distributionRoutes } from './distribution.js';
import { grpcRoutes } from './grpc.js';
import { imageRoutes } from './image.js';
import { networkRoutes } from './network.js';
import { pluginRoutes } from './plugin.js';
import { sessionRoutes } from './session.js';
import { swarmRoutes } from './swarm.js';
import { systemRoutes } from './system.js';
import { volumeRoutes } from './volume.js';

export const ROUTES: readonly RouteDef[] = Object.freeze([
  ...checkpointRoutes,
  ...containerRoutes,
  ...imageRoutes,
  ...systemRoutes,
  ...volumeRoutes,
  ...buildRoutes,
  ...sessionRoutes,
  ...swarmRoutes,
  ...pluginRoutes,
  ...distributionRoutes,
  ...networkRoutes,
  ...debugRoutes,
  ...grpcRoutes,
]);

const byId = new Map(ROUTES.map((r) => [r.id, r]));

export function routeById(id: string): RouteDef | undefined {
  return byId.get(id);
}

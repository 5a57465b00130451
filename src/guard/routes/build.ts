/** moby's build router (daemon/server/router/build/build.go), in registration order. */
import { defineRoutes } from './define.js';

export const buildRoutes = defineRoutes('build', [
  ['build', 'POST', '/build', 'upload', 'tar'],
  ['build-prune', 'POST', '/build/prune', 'plain', 'none'],
  ['build-cancel', 'POST', '/build/cancel', 'plain', 'none'],
]);

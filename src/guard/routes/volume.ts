/** moby's volume router (daemon/server/router/volume/volume.go), in registration order. */
import { defineRoutes } from './define.js';

export const volumeRoutes = defineRoutes('volume', [
  ['volume-list', 'GET', '/volumes', 'plain', 'none'],
  ['volume-inspect', 'GET', '/volumes/{name:.*}', 'plain', 'none'],
  ['volume-create', 'POST', '/volumes/create', 'plain', 'json'],
  ['volume-prune', 'POST', '/volumes/prune', 'plain', 'none'],
  ['volume-update', 'PUT', '/volumes/{name:.*}', 'plain', 'json'],
  ['volume-delete', 'DELETE', '/volumes/{name:.*}', 'plain', 'none'],
]);

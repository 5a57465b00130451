/** moby's system router (daemon/server/router/system/system.go), in registration order. */
import { defineRoutes } from './define.js';

export const systemRoutes = defineRoutes('system', [
  ['system-ping', 'GET', '/_ping', 'plain', 'none'],
  ['system-ping-head', 'HEAD', '/_ping', 'plain', 'none'],
  ['system-events', 'GET', '/events', 'stream', 'none'],
  ['system-info', 'GET', '/info', 'plain', 'none'],
  ['system-version', 'GET', '/version', 'plain', 'none'],
  ['system-df', 'GET', '/system/df', 'plain', 'none'],
  ['system-auth', 'POST', '/auth', 'plain', 'json'],
]);

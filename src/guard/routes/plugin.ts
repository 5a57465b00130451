/** moby's plugin router (daemon/server/router/plugin/plugin.go), in registration order. */
import { defineRoutes } from './define.js';

export const pluginRoutes = defineRoutes('plugin', [
  ['plugin-list', 'GET', '/plugins', 'plain', 'none'],
  ['plugin-inspect', 'GET', '/plugins/{name:.*}/json', 'plain', 'none'],
  ['plugin-privileges', 'GET', '/plugins/privileges', 'plain', 'none'],
  ['plugin-delete', 'DELETE', '/plugins/{name:.*}', 'plain', 'none'],
  ['plugin-enable', 'POST', '/plugins/{name:.*}/enable', 'plain', 'none'],
  ['plugin-disable', 'POST', '/plugins/{name:.*}/disable', 'plain', 'none'],
  ['plugin-pull', 'POST', '/plugins/pull', 'stream', 'json'],
  ['plugin-push', 'POST', '/plugins/{name:.*}/push', 'stream', 'none'],
  ['plugin-upgrade', 'POST', '/plugins/{name:.*}/upgrade', 'stream', 'json'],
  ['plugin-set', 'POST', '/plugins/{name:.*}/set', 'plain', 'json'],
  ['plugin-create', 'POST', '/plugins/create', 'upload', 'tar'],
]);

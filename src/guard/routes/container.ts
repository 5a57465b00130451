/**
 * moby's container router (daemon/server/router/container/container.go), in its registration order: the first
 * route whose template matches wins, as in gorilla/mux. `{name:.*}` is greedy and may contain slashes.
 */
import { defineRoutes } from './define.js';

export const containerRoutes = defineRoutes('container', [
  ['container-archive-head', 'HEAD', '/containers/{name:.*}/archive', 'plain', 'none'],
  ['container-list', 'GET', '/containers/json', 'plain', 'none'],
  ['container-export', 'GET', '/containers/{name:.*}/export', 'stream', 'none'],
  ['container-changes', 'GET', '/containers/{name:.*}/changes', 'plain', 'none'],
  ['container-inspect', 'GET', '/containers/{name:.*}/json', 'plain', 'none'],
  ['container-top', 'GET', '/containers/{name:.*}/top', 'plain', 'none'],
  ['container-logs', 'GET', '/containers/{name:.*}/logs', 'stream', 'none'],
  ['container-stats', 'GET', '/containers/{name:.*}/stats', 'stream', 'none'],
  ['container-attach-ws', 'GET', '/containers/{name:.*}/attach/ws', 'hijack', 'none'],
  ['exec-inspect', 'GET', '/exec/{id:.*}/json', 'plain', 'none'],
  ['container-archive-get', 'GET', '/containers/{name:.*}/archive', 'stream', 'none'],
  ['container-create', 'POST', '/containers/create', 'plain', 'json'],
  ['container-kill', 'POST', '/containers/{name:.*}/kill', 'plain', 'none'],
  ['container-pause', 'POST', '/containers/{name:.*}/pause', 'plain', 'none'],
  ['container-unpause', 'POST', '/containers/{name:.*}/unpause', 'plain', 'none'],
  ['container-restart', 'POST', '/containers/{name:.*}/restart', 'plain', 'none'],
  ['container-start', 'POST', '/containers/{name:.*}/start', 'plain', 'none'],
  ['container-stop', 'POST', '/containers/{name:.*}/stop', 'plain', 'none'],
  ['container-wait', 'POST', '/containers/{name:.*}/wait', 'stream', 'none'],
  ['container-resize', 'POST', '/containers/{name:.*}/resize', 'plain', 'none'],
  ['container-attach', 'POST', '/containers/{name:.*}/attach', 'hijack', 'none'],
  ['container-copy', 'POST', '/containers/{name:.*}/copy', 'stream', 'json'],
  ['exec-create', 'POST', '/containers/{name:.*}/exec', 'plain', 'json'],
  ['exec-start', 'POST', '/exec/{name:.*}/start', 'hijack', 'json'],
  ['exec-resize', 'POST', '/exec/{name:.*}/resize', 'plain', 'none'],
  ['container-rename', 'POST', '/containers/{name:.*}/rename', 'plain', 'none'],
  ['container-update', 'POST', '/containers/{name:.*}/update', 'plain', 'json'],
  ['container-prune', 'POST', '/containers/prune', 'plain', 'none'],
  ['container-commit', 'POST', '/commit', 'plain', 'json'],
  ['container-archive-put', 'PUT', '/containers/{name:.*}/archive', 'upload', 'tar'],
  ['container-delete', 'DELETE', '/containers/{name:.*}', 'plain', 'none'],
]);

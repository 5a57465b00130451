/**
 * moby's swarm router (daemon/server/router/swarm/cluster.go): swarm itself plus services, nodes, tasks, secrets
 * and configs, in registration order. Default ids without `{x:.*}` match one segment only (`[^/]+`).
 */
import { defineRoutes } from './define.js';

export const swarmRoutes = defineRoutes('swarm', [
  ['swarm-init', 'POST', '/swarm/init', 'plain', 'json'],
  ['swarm-join', 'POST', '/swarm/join', 'plain', 'json'],
  ['swarm-leave', 'POST', '/swarm/leave', 'plain', 'none'],
  ['swarm-inspect', 'GET', '/swarm', 'plain', 'none'],
  ['swarm-unlockkey', 'GET', '/swarm/unlockkey', 'plain', 'none'],
  ['swarm-update', 'POST', '/swarm/update', 'plain', 'json'],
  ['swarm-unlock', 'POST', '/swarm/unlock', 'plain', 'json'],
  ['service-list', 'GET', '/services', 'plain', 'none'],
  ['service-inspect', 'GET', '/services/{id}', 'plain', 'none'],
  ['service-create', 'POST', '/services/create', 'plain', 'json'],
  ['service-update', 'POST', '/services/{id}/update', 'plain', 'json'],
  ['service-delete', 'DELETE', '/services/{id}', 'plain', 'none'],
  ['service-logs', 'GET', '/services/{id}/logs', 'stream', 'none'],
  ['node-list', 'GET', '/nodes', 'plain', 'none'],
  ['node-inspect', 'GET', '/nodes/{id}', 'plain', 'none'],
  ['node-delete', 'DELETE', '/nodes/{id}', 'plain', 'none'],
  ['node-update', 'POST', '/nodes/{id}/update', 'plain', 'json'],
  ['task-list', 'GET', '/tasks', 'plain', 'none'],
  ['task-inspect', 'GET', '/tasks/{id}', 'plain', 'none'],
  ['task-logs', 'GET', '/tasks/{id}/logs', 'stream', 'none'],
  ['secret-list', 'GET', '/secrets', 'plain', 'none'],
  ['secret-create', 'POST', '/secrets/create', 'plain', 'json'],
  ['secret-delete', 'DELETE', '/secrets/{id}', 'plain', 'none'],
  ['secret-inspect', 'GET', '/secrets/{id}', 'plain', 'none'],
  ['secret-update', 'POST', '/secrets/{id}/update', 'plain', 'json'],
  ['config-list', 'GET', '/configs', 'plain', 'none'],
  ['config-create', 'POST', '/configs/create', 'plain', 'json'],
  ['config-delete', 'DELETE', '/configs/{id}', 'plain', 'none'],
  ['config-inspect', 'GET', '/configs/{id}', 'plain', 'none'],
  ['config-update', 'POST', '/configs/{id}/update', 'plain', 'json'],
]);

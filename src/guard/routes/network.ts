/** moby's network router (daemon/server/router/network/network.go), in registration order. */
import { defineRoutes } from './define.js';

export const networkRoutes = defineRoutes('network', [
  ['network-list', 'GET', '/networks', 'plain', 'none'],
  ['network-list-slash', 'GET', '/networks/', 'plain', 'none'],
  ['network-inspect', 'GET', '/networks/{id:.+}', 'plain', 'none'],
  ['network-create', 'POST', '/networks/create', 'plain', 'json'],
  ['network-connect', 'POST', '/networks/{id:.*}/connect', 'plain', 'json'],
  ['network-disconnect', 'POST', '/networks/{id:.*}/disconnect', 'plain', 'json'],
  ['network-prune', 'POST', '/networks/prune', 'plain', 'none'],
  ['network-delete', 'DELETE', '/networks/{id:.*}', 'plain', 'none'],
]);

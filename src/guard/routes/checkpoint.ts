/** moby's checkpoint router (experimental daemons only; CRIU). */
import { defineRoutes } from './define.js';

export const checkpointRoutes = defineRoutes('checkpoint', [
  ['checkpoint-list', 'GET', '/containers/{name:.*}/checkpoints', 'plain', 'none'],
  ['checkpoint-create', 'POST', '/containers/{name:.*}/checkpoints', 'plain', 'json'],
  ['checkpoint-delete', 'DELETE', '/containers/{name}/checkpoints/{checkpoint}', 'plain', 'none'],
]);

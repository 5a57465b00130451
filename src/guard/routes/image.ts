/** moby's image router (daemon/server/router/image/image.go), in registration order. */
import { defineRoutes } from './define.js';

export const imageRoutes = defineRoutes('image', [
  ['image-list', 'GET', '/images/json', 'plain', 'none'],
  ['image-search', 'GET', '/images/search', 'plain', 'none'],
  ['image-get-all', 'GET', '/images/get', 'stream', 'none'],
  ['image-get', 'GET', '/images/{name:.*}/get', 'stream', 'none'],
  ['image-history', 'GET', '/images/{name:.*}/history', 'plain', 'none'],
  ['image-inspect', 'GET', '/images/{name:.*}/json', 'plain', 'none'],
  ['image-attestations', 'GET', '/images/{name:.*}/attestations', 'plain', 'none'],
  ['image-load', 'POST', '/images/load', 'upload', 'tar'],
  ['image-create', 'POST', '/images/create', 'upload', 'raw'],
  ['image-push', 'POST', '/images/{name:.*}/push', 'stream', 'none'],
  ['image-tag', 'POST', '/images/{name:.*}/tag', 'plain', 'none'],
  ['image-prune', 'POST', '/images/prune', 'plain', 'none'],
  ['image-delete', 'DELETE', '/images/{name:.*}', 'plain', 'none'],
]);

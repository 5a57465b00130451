/** moby's distribution router: registry manifest lookup for an image reference. */
import { defineRoutes } from './define.js';

export const distributionRoutes = defineRoutes('distribution', [
  ['distribution-inspect', 'GET', '/distribution/{name:.*}/json', 'plain', 'none'],
]);

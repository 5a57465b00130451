/** moby's session router: BuildKit's session, upgraded to h2c. */
import { defineRoutes } from './define.js';

export const sessionRoutes = defineRoutes('session', [['session', 'POST', '/session', 'h2c', 'none']]);

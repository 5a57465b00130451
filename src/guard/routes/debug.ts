/** moby's debug router (only with `dockerd --debug`): pprof and expvar. Always refused by the guard. */
import { defineRoutes } from './define.js';

export const debugRoutes = defineRoutes('debug', [
  ['debug-vars', 'GET', '/debug/vars', 'plain', 'none'],
  ['debug-pprof-index', 'GET', '/debug/pprof/', 'plain', 'none'],
  ['debug-pprof-cmdline', 'GET', '/debug/pprof/cmdline', 'plain', 'none'],
  ['debug-pprof-profile', 'GET', '/debug/pprof/profile', 'stream', 'none'],
  ['debug-pprof-symbol', 'GET', '/debug/pprof/symbol', 'plain', 'none'],
  ['debug-pprof-trace', 'GET', '/debug/pprof/trace', 'stream', 'none'],
  ['debug-pprof-named', 'GET', '/debug/pprof/{name}', 'plain', 'none'],
]);

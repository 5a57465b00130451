/** nestling's public library API: named re-exports only, no side effects. */
export * from './util/errors.js';
export { Labels, LABEL_PREFIX } from './util/labels.js';
export { Engine, negotiateApiVersion, MIN_API_VERSION, MAX_API_VERSION } from './engine/client.js';
export type { EngineEndpoint, TlsMaterial } from './engine/transport.js';
export { resolveEndpoint, parseHostUrl } from './engine/resolve.js';
export { resolveContextEndpoint } from './engine/contexts.js';
export { startPrivateDockerd } from './engine/local-daemon.js';
export { LocalImages } from './images/local.js';

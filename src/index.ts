/** nestling's public library API: named re-exports only, no side effects. */
export * from './util/errors.js';
export { Labels, LABEL_PREFIX } from './util/labels.js';
export { Engine, negotiateApiVersion, MIN_API_VERSION, MAX_API_VERSION } from './engine/client.js';
export type { EngineEndpoint, TlsMaterial } from './engine/transport.js';
export { resolveEndpoint, parseHostUrl } from './engine/resolve.js';
export { resolveContextEndpoint } from './engine/contexts.js';
export { startPrivateDockerd } from './engine/local-daemon.js';
export { LocalImages } from './images/local.js';
export { runWithMode, prepareRun, newRunId } from './modes/run.js';
export { chooseMode, resolveMode, describeProfile, AUTO_ORDER } from './modes/resolve.js';
export { gatherFacts, probePrivilege, probeUserns, fileProbeCache } from './modes/facts.js';
export type { HostFacts, PrivilegeFacts, UsernsFacts } from './modes/facts.js';
export { modeByName, allModes } from './modes/registry.js';
export { reapRun, reapDeadRuns, listRuns } from './modes/reaper.js';
export { upEngine, downEngine, listUp } from './modes/up.js';
export { listCaches, pruneCaches } from './modes/cache.js';
export type { Mode, ModeName, Plan, RunOptions, Detection, ModeProfile } from './modes/types.js';

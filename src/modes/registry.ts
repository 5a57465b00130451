/** Every mode, by name (auto is not a mode: it chooses one, see resolve.ts). */
import { dind } from './dind.js';
import { dood } from './dood.js';
import { guarded } from './guarded.js';
import { rootless } from './rootless.js';
import { sysbox } from './sysbox.js';
import type { ConcreteModeName, Mode } from './types.js';

const MODES: Readonly<Record<ConcreteModeName, Mode>> = Object.freeze({ dood, guarded, dind, rootless, sysbox });

export function modeByName(name: ConcreteModeName): Mode {
  return MODES[name];
}

export function allModes(): Mode[] {
  return Object.values(MODES);
}

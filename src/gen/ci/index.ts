/** `nestling ci <platform>`: one entry point over the three generators. */
import { githubCi } from './github.js';
import { gitlabCi, type CiOutput } from './gitlab.js';
import { jenkinsCi } from './jenkins.js';
import { resolveCiSpec, type CiInput, type CiSpec } from './options.js';

export type { CiInput, CiSpec, CiOutput };
export { resolveCiSpec, shellJoin, CI_MODES, CI_PLATFORMS, DEFAULT_CI_SCRIPT } from './options.js';

export function generateCiFromSpec(spec: CiSpec): CiOutput {
  switch (spec.platform) {
    case 'gitlab':
      return gitlabCi(spec);
    case 'github':
      return githubCi(spec);
    case 'jenkins':
      return jenkinsCi(spec);
  }
}

export function generateCi(input: CiInput): CiOutput {
  return generateCiFromSpec(resolveCiSpec(input));
}

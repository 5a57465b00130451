/** The CLI's exit codes: the single table, mirrored in docs/exit-codes.md and tested end to end (test/e2e). */
export { ExitCode } from '../util/errors.js';

export const EXIT_CODE_TABLE = [
  { code: 0, name: 'ok', meaning: 'success; guard stopped by SIGTERM/SIGINT after draining' },
  { code: 1, name: 'internal', meaning: 'internal error: a bug in nestling (please report it with `nestling --version`)' },
  { code: 2, name: 'usage', meaning: 'usage error, invalid configuration or policy file' },
  { code: 3, name: 'environment', meaning: 'environment not suitable: doctor fail, missing prerequisite, mode not applicable' },
  { code: 4, name: 'engine', meaning: 'engine unreachable, too old, or it returned an error' },
  { code: 5, name: 'policy-denied', meaning: 'denied by policy (one-shot commands such as `guard check`), or audit findings at or above --fail-on' },
] as const;

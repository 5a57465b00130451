/**
 * The library never reads process.env / process.platform directly: callers pass a RuntimeContext, and the CLI
 * builds the default one from the process. Unit tests pass their own.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export interface RuntimeContext {
  env: Env;
  /** Home directory used for ~/.docker. */
  home: string;
  /** Root of the host filesystem facts (/proc, /sys); tests point it at a fake tree. */
  root: string;
  now: () => Date;
  signal?: AbortSignal | undefined;
}

export function envFlag(env: Env, name: string): boolean {
  const v = env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

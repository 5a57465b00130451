/** Every label and well-known name nestling puts on engine objects, in one place (reverse-DNS). */
export const Labels = {
  /** The owner (JOB_ID) of an object created through the guard, or by `nestling run`. */
  owner: 'io.nestling.owner',
  /** Set on everything nestling itself creates (job containers, inner daemons, networks, volumes). */
  managed: 'io.nestling.managed',
  /** The run id of a `nestling run` / `up` session, for the reaper. */
  run: 'io.nestling.run',
  /** Role within a run: job, daemon, guard, cache. */
  role: 'io.nestling.role',
  /** The pid and hostname of the nestling process that owns a run: the reaper checks whether it is still alive. */
  pid: 'io.nestling.pid',
  /** Content key of a locally built image: rebuild when the inputs change. */
  contentKey: 'io.nestling.content-key',
  /** Cache key of a named cache volume. */
  cacheKey: 'io.nestling.cache-key',
  /** The mode of a `nestling run` / `up` (dood, guarded, dind, rootless, sysbox). */
  mode: 'io.nestling.mode',
  /** The name given to `nestling up --name`. */
  name: 'io.nestling.name',
  /** Original tag asked for by a job, on per-job tag views. */
  tag: 'io.nestling.tag',
} as const;

/** Prefix of every label nestling owns: jobs may not set labels under it. */
export const LABEL_PREFIX = 'io.nestling.';

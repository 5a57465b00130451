/**
 * Exec routes. moby registers them in the container router (see container.ts, where they keep their place in the
 * registration order); this file lists their ids so the exec area has one place to look.
 */
export const execRouteIds = ['exec-create', 'exec-start', 'exec-resize', 'exec-inspect'] as const;

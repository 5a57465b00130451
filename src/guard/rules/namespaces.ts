/**
 * Namespace rules: no host namespaces; joining another container's namespaces (`container:<id>`) only for
 * containers this owner owns, answered as "No such container" otherwise. Joins are rewritten to the full id so the
 * daemon joins exactly the container that was checked.
 */
import { asString, type GoObject } from '../go-json.js';
import { denied, requireOwned } from '../ownership.js';
import { isDenial, type Denial } from '../match.js';
import type { DecideContext, RouteDef } from '../types.js';

/** Cgroup is HostConfig.Cgroup (a CgroupSpec: `container:<id>` puts the container in another one's cgroup). */
const MODES = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode', 'Cgroup'] as const;

export async function checkNamespaces(hc: GoObject, ctx: DecideContext, route: RouteDef, notes: string[]): Promise<Denial | undefined> {
  for (const f of MODES) {
    const v = asString(hc[f]);
    if (v === 'host') return denied('host-namespace', `HostConfig.${f}`, v, route);
    if (v.startsWith('container:')) {
      const name = v.slice('container:'.length);
      const ref = await requireOwned(ctx, 'container', name, route);
      if (isDenial(ref)) return ref;
      hc[f] = `container:${ref.id}`;
      if (ref.id !== name) notes.push(`${f} container:${name} -> ${ref.id}`);
    }
  }
  return undefined;
}

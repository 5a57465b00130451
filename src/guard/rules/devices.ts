/** Device rules: no host devices, device cgroup rules or device requests (GPUs) by default. */
import { asArray, type GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { RouteDef } from '../types.js';

export function checkDevices(hc: GoObject, route: RouteDef, prefix = 'HostConfig.'): Denial | undefined {
  for (const f of ['Devices', 'DeviceCgroupRules', 'DeviceRequests'] as const) {
    const items = asArray(hc[f]);
    if (items.length > 0) return denied('no-devices', `${prefix}${f}`, items.length === 1 && typeof items[0] === 'string' ? items[0] : `${items.length} entries`, route);
  }
  return undefined;
}

/** Every audit check, in report order. One file per check. */
import type { AuditCheck } from '../context.js';
import { socketMountCheck } from './socket-mount.js';
import { privilegedCheck } from './privileged.js';
import { hostNamespacesCheck } from './host-namespaces.js';
import { capabilitiesCheck } from './capabilities.js';
import { hostMountsCheck } from './host-mounts.js';
import { socketProxyCheck } from './socket-proxy.js';
import { tcpDaemonCheck } from './tcp-daemon.js';
import { authzBypassCheck } from './authz-bypass.js';

export const AUDIT_CHECKS: readonly AuditCheck[] = [
  socketMountCheck,
  privilegedCheck,
  hostNamespacesCheck,
  capabilitiesCheck,
  hostMountsCheck,
  socketProxyCheck,
  tcpDaemonCheck,
  authzBypassCheck,
];

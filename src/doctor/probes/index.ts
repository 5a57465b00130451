/** Every doctor probe, in report order. One file per probe. */
import type { Probe } from '../probe.js';
import { containerProbe } from './container.js';
import { engineKindProbe } from './engine-kind.js';
import { privilegesProbe } from './privileges.js';
import { endpointProbe } from './endpoint.js';
import { socketProbe } from './socket.js';
import { daemonProbe } from './daemon.js';
import { tlsProbe } from './tls.js';
import { usernsProbe } from './userns.js';
import { cgroupsProbe } from './cgroups.js';
import { capabilitiesProbe } from './capabilities.js';
import { dataRootProbe } from './data-root.js';
import { devicesProbe } from './devices.js';
import { iptablesProbe } from './iptables.js';
import { mtuProbe } from './mtu.js';
import { sysboxProbe } from './sysbox.js';
import { lsmProbe } from './lsm.js';
import { cliProbe } from './cli.js';
import { recommendationProbe } from './recommendation.js';

export const PROBES: readonly Probe[] = [
  containerProbe,
  engineKindProbe,
  privilegesProbe,
  endpointProbe,
  socketProbe,
  daemonProbe,
  tlsProbe,
  usernsProbe,
  cgroupsProbe,
  capabilitiesProbe,
  dataRootProbe,
  devicesProbe,
  iptablesProbe,
  mtuProbe,
  sysboxProbe,
  lsmProbe,
  cliProbe,
  recommendationProbe,
];

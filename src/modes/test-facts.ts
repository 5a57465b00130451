/** Fake host facts for unit tests of the (pure) plans and the mode choice. */
import type { HostFacts } from './facts.js';

export function fakeFacts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    engineUrl: 'unix:///var/run/docker.sock',
    engineId: 'TEST',
    engineLocal: true,
    engineOnLoopback: true,
    socketPath: '/var/run/docker.sock',
    socketGid: 998,
    serverVersion: '20.10.24',
    apiVersion: '1.41',
    osType: 'linux',
    kernelVersion: '6.1.0',
    cgroupVersion: '1',
    cgroupDriver: 'cgroupfs',
    runtimes: ['runc'],
    rootlessEngine: false,
    securityOptions: ['name=seccomp,profile=default'],
    mtu: 1450,
    ...over,
  };
}

/**
 * The certificates of a DinD run, in memory (PEM). They go into the daemon and job containers through
 * PUT /containers/{id}/archive (keys 0600), never through a host path, and never into a plan or a log line.
 */
import type { TlsPlan } from './types.js';

export interface PemPair {
  cert: string;
  key: string;
}

export interface DindCerts {
  ca: PemPair;
  server: PemPair;
  client: PemPair;
}

export type IssueCerts = (plan: TlsPlan) => Promise<DindCerts>;

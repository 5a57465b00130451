/** A doctor probe is a Check over the doctor environment. */
import type { Check } from '../checks/runner.js';
import type { DoctorEnvironment, SharedReads } from './context.js';

export type Probe = Check<DoctorEnvironment & { read: SharedReads }>;

export const Groups = {
  where: 'where am I',
  access: 'Docker access',
  daemon: 'can a daemon run here',
  cli: 'Docker CLI',
  recommendation: 'recommendation',
} as const;

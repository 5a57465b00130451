/** Certificates for TLS-protected inner daemons, in docker:dind's layout. */
export { generateDindCerts, resolveAlgorithm, DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS } from './generate.js';
export type { CertBundle, GenerateCertsOptions, KeyAlgorithm, KeyPairPem } from './generate.js';
export { writeDindLayout, LAYOUT_DIRS, LAYOUT_FILES } from './layout.js';
export type { DindLayout, LayoutFile, WriteLayoutOptions, LayoutDir } from './layout.js';
export { parseSan, parseSans } from './sans.js';
export type { SanList } from './sans.js';

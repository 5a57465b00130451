/** The wire subset of the Engine API (swagger v1.41); see api.ts. */
export type * from './api.js';

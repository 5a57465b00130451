#!/usr/bin/env node
// Writes schema/policy.schema.json from the zod schema in src/guard/policy-file.ts (build first: npx tsc).
// src/guard/policy-file.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
const root = new URL('..', import.meta.url).pathname;
const { policyJsonSchema } = await import(`${root}dist/src/guard/policy-file.js`);
writeFileSync(`${root}schema/policy.schema.json`, JSON.stringify(policyJsonSchema(), null, 2) + '\n');
console.error('wrote schema/policy.schema.json');

#!/usr/bin/env node
// Extracts every method+path of the Engine API from moby swagger files into test/fixtures/guard/engine-api-paths.json
// (our own list of the API surface; the route-table coverage test checks the table against it).
//   node scripts/gen-api-paths.mjs SWAGGER.yaml... (e.g. moby's api/docs/v1.41.yaml and api/swagger.yaml)
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
const root = new URL('..', import.meta.url).pathname;
const seen = new Map();
const versions = [];
for (const file of process.argv.slice(2)) {
  const doc = parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 });
  versions.push(doc.info.version);
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      if (!['get', 'post', 'put', 'delete', 'head'].includes(m)) continue;
      const key = `${m.toUpperCase()} ${path}`;
      const e = seen.get(key) ?? { method: m.toUpperCase(), path, operationId: op.operationId, versions: [] };
      e.versions.push(doc.info.version);
      seen.set(key, e);
    }
  }
}
const out = {
  description: 'Every method+path of the Docker Engine API, extracted from moby swagger files by scripts/gen-api-paths.mjs',
  swaggerVersions: versions,
  paths: [...seen.values()],
};
writeFileSync(`${root}test/fixtures/guard/engine-api-paths.json`, JSON.stringify(out, null, 2) + '\n');
console.error(`wrote ${out.paths.length} paths from API ${versions.join(', ')}`);

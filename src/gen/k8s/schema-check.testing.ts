/**
 * Offline validation of generated objects against the Kubernetes API schemas, for tests only (devDependencies):
 *   - kubernetes-models ~4.5 (the v1.33.0 OpenAPI schema, compiled to ajv validators): types, enums, formats
 *     (quantities), required fields;
 *   - the TypeScript types generated from the upstream OpenAPI of 1.29 and 1.30 (kubernetes-types) and 1.33
 *     (kubernetes-models): every object is compiled as an object literal of its API type, so an unknown field
 *     anywhere (a typo, or a field newer than that version) is an excess-property error, as kubectl's strict field
 *     validation would report it.
 * No package on npm carries the 1.31 and 1.32 schemas; between 1.30 and 1.33 no field used here changed.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import type { KubeVersion } from '../defaults.js';

const require = createRequire(import.meta.url);

export type SchemaVersion = '1.29' | '1.30' | '1.33';
/** The schema a generated target version is checked against (1.31/1.32 have no npm schema: 1.33 and 1.30). */
export function schemasFor(target: KubeVersion): SchemaVersion[] {
  switch (target) {
    case '1.29':
      return ['1.29', '1.30', '1.33'];
    case '1.30':
    case '1.31':
    case '1.32':
      return ['1.30', '1.33'];
    case '1.33':
      return ['1.33'];
  }
}

type Validator = { validate(): void };
type ModelCtor = new (data: unknown) => Validator;

function modelFor(obj: { apiVersion?: unknown; kind?: unknown }): ModelCtor {
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  switch (key) {
    case 'v1/Pod':
      return (require('kubernetes-models/v1/Pod') as { Pod: ModelCtor }).Pod;
    case 'v1/ConfigMap':
      return (require('kubernetes-models/v1/ConfigMap') as { ConfigMap: ModelCtor }).ConfigMap;
    case 'batch/v1/Job':
      return (require('kubernetes-models/batch/v1/Job') as { Job: ModelCtor }).Job;
    default:
      throw new Error(`no schema for ${key}`);
  }
}

/** ajv validation against the 1.33 OpenAPI schema; returns the error messages (empty = valid). */
export function validateWithOpenApi133(objects: readonly unknown[]): string[] {
  const errors: string[] = [];
  objects.forEach((o, i) => {
    try {
      new (modelFor(o as Record<string, unknown>))(o).validate();
    } catch (e) {
      errors.push(`object ${i} (${(o as { kind?: string }).kind}): ${(e as Error).message}`);
    }
  });
  return errors;
}

const TYPE_IMPORTS: Record<SchemaVersion, { header: string; types: Record<string, string> }> = {
  '1.29': {
    header: "import type { Pod, ConfigMap } from 'k8s-types-1.29/core/v1';\nimport type { Job } from 'k8s-types-1.29/batch/v1';",
    types: { 'v1/Pod': 'Pod', 'v1/ConfigMap': 'ConfigMap', 'batch/v1/Job': 'Job' },
  },
  '1.30': {
    header: "import type { Pod, ConfigMap } from 'k8s-types-1.30/core/v1';\nimport type { Job } from 'k8s-types-1.30/batch/v1';",
    types: { 'v1/Pod': 'Pod', 'v1/ConfigMap': 'ConfigMap', 'batch/v1/Job': 'Job' },
  },
  '1.33': {
    header:
      "import type { IPod } from 'kubernetes-models/v1/Pod';\nimport type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';\nimport type { IJob } from 'kubernetes-models/batch/v1/Job';",
    types: { 'v1/Pod': 'IPod', 'v1/ConfigMap': 'IConfigMap', 'batch/v1/Job': 'IJob' },
  },
};

export interface TypeCheckCase {
  /** a label for messages */
  name: string;
  version: SchemaVersion;
  objects: readonly unknown[];
}

/**
 * Type-checks every case in one TypeScript program (a few seconds); returns the diagnostics per case name.
 * The virtual files live under this package's root so that node_modules resolves.
 */
export function typeCheckObjects(cases: readonly TypeCheckCase[]): Map<string, string[]> {
  const root = findPackageRoot();
  const files = new Map<string, { name: string; text: string }>();
  cases.forEach((c, i) => {
    const t = TYPE_IMPORTS[c.version];
    const decls = c.objects.map((o, j) => {
      const r = o as { apiVersion?: string; kind?: string };
      const type = t.types[`${r.apiVersion}/${r.kind}`];
      if (!type) throw new Error(`${c.name}: no ${c.version} type for ${r.apiVersion}/${r.kind}`);
      return `export const o${j}: ${type} = ${JSON.stringify(o, null, 2)};`;
    });
    files.set(join(root, `__nestling_schema_check_${i}.ts`), { name: c.name, text: `${t.header}\n${decls.join('\n')}\n` });
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (f) => files.get(f)?.text ?? readFile(f);
  host.fileExists = (f) => files.has(f) || fileExists(f);
  host.getSourceFile = (f, lang, onError, create) => {
    const v = files.get(f);
    return v ? ts.createSourceFile(f, v.text, lang) : getSourceFile(f, lang, onError, create);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const out = new Map<string, string[]>(cases.map((c) => [c.name, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const f = d.file ? files.get(d.file.fileName) : undefined;
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const where = d.file && d.start !== undefined ? ` (line ${d.file.getLineAndCharacterOfPosition(d.start).line + 1})` : '';
    if (f) out.get(f.name)?.push(`${msg}${where}`);
    else for (const list of out.values()) list.push(`program: ${msg}`);
  }
  return out;
}

function findPackageRoot(): string {
  // dist/src/gen/k8s/x.js -> the package root holds node_modules
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      require.resolve(join(dir, 'node_modules', 'kubernetes-models', 'package.json'));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('node_modules/kubernetes-models not found above this file');
}

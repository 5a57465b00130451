/**
 * Objects -> YAML text, the same way for every generator: YAML 1.2 (the `yaml` package), no line folding, keys in
 * insertion order, a comment header, documents separated by `---`.
 */
import { Document } from 'yaml';

export interface YamlOptions {
  /** comment lines printed before the first document (without the leading `#`) */
  header?: string[] | undefined;
}

function commentBlock(lines: string[] | undefined): string {
  if (!lines || lines.length === 0) return '';
  return lines.map((l) => (l ? `# ${l}` : '#').replace(/\s+$/, '')).join('\n') + '\n';
}

export function toYaml(value: unknown): string {
  const doc = new Document(value, { version: '1.2' });
  return doc.toString({ lineWidth: 0, minContentWidth: 0, indentSeq: true });
}

/** A multi-document stream: `# header` then each object, separated by `---`. */
export function toYamlStream(objects: readonly unknown[], opts: YamlOptions = {}): string {
  return commentBlock(opts.header) + objects.map((o) => `---\n${toYaml(o)}`).join('');
}

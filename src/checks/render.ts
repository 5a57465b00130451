/**
 * Text rendering of findings, shared by doctor and audit. Plain ASCII, no emoji; colour only when asked (the CLI
 * decides from TTY and NO_COLOR). The library returns lines; only the CLI prints them.
 */
import type { Finding, Severity, Status } from './model.js';

const COLORS: Record<Status, string> = { ok: '32', warn: '33', fail: '31', unknown: '35' };
const SEV_COLORS: Record<Severity, string> = { info: '36', low: '32', medium: '33', high: '31', critical: '1;31' };

export function paint(s: string, code: string, color: boolean): string {
  return color ? `\u001b[${code}m${s}\u001b[0m` : s;
}

export function statusTag(s: Status, color: boolean): string {
  const label = s === 'unknown' ? '????' : s.toUpperCase().padEnd(4);
  return paint(`[${label}]`, COLORS[s], color);
}

export function severityTag(s: Severity, color: boolean): string {
  return paint(s.toUpperCase().padEnd(8), SEV_COLORS[s], color);
}

/** Wraps `text` at `width` columns with `indent` on continuation lines. */
export function wrap(text: string, indent: string, width = 100): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && indent.length + cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.map((l) => indent + l);
}

export function renderFinding(f: Finding, color: boolean, verbose = true): string[] {
  const head = f.severity ? `${severityTag(f.severity, color)} ${f.title}${f.subject ? ` (${f.subject})` : ''}` : `${statusTag(f.status, color)} ${f.title}`;
  const lines = [`  ${head}`];
  lines.push(...wrap(f.found, '         '));
  if (verbose || f.status !== 'ok') {
    if (f.why && f.status !== 'ok') lines.push(...wrap(`why: ${f.why}`, '         '));
    if (f.fix && f.status !== 'ok') lines.push(...wrap(`fix: ${f.fix}`, '         '));
  }
  return lines;
}

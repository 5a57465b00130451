/**
 * JSON-lines streams: build/import/pull progress and /events. Objects are separated by newlines (the daemon may
 * also send several objects on one line with no separator from old json.Encoder paths, and chunks split anywhere,
 * in the middle of a UTF-8 sequence included): the parser buffers bytes, decodes whole lines, and tolerates
 * `\r\n` and blank lines.
 *
 * In a progress stream a line with `error` / `errorDetail` is the failure of the whole operation (moby's
 * jsonmessage): `followProgress` turns it into an EngineError carrying the daemon's message.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { EngineError } from '../../util/errors.js';
import type { JsonMessage } from '../types/api.js';
import { abortReason } from '../transport.js';

/** Incremental line splitter + JSON decoder. */
export class JsonLinesParser {
  #decoder = new StringDecoder('utf8');
  #buf = '';
  readonly #maxLine: number;

  constructor(maxLine = 16 * 1024 * 1024) {
    this.#maxLine = maxLine;
  }

  /** Feeds a chunk; returns the complete values it finished. */
  push(chunk: Buffer | string): unknown[] {
    this.#buf += typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      parseLine(line, out);
    }
    if (this.#buf.length > this.#maxLine) {
      throw new EngineError(`a JSON line from the engine exceeds ${this.#maxLine} bytes`, { code: 'E_ENGINE_BAD_RESPONSE' });
    }
    return out;
  }

  /** Flushes a last line without a trailing newline. */
  end(): unknown[] {
    this.#buf += this.#decoder.end();
    const out: unknown[] = [];
    parseLine(this.#buf, out);
    this.#buf = '';
    return out;
  }
}

function parseLine(raw: string, out: unknown[]): void {
  const line = raw.trim();
  if (line === '') return;
  try {
    out.push(JSON.parse(line));
    return;
  } catch {
    /* maybe several concatenated objects: fall through */
  }
  // Concatenated values ("{...}{...}"): split at top-level object boundaries, respecting strings.
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        const part = line.slice(start, i + 1).trim();
        try {
          out.push(JSON.parse(part));
        } catch (e) {
          throw badLine(part, e);
        }
        start = i + 1;
      }
    }
  }
  if (line.slice(start).trim() !== '' || depth !== 0) throw badLine(line, undefined);
}

function badLine(line: string, cause: unknown): EngineError {
  return new EngineError('the engine sent a line that is not JSON in a JSON stream', {
    code: 'E_ENGINE_BAD_RESPONSE',
    cause,
    details: { sample: line.slice(0, 200) },
  });
}

/**
 * Reads a stream of JSON lines as an async iterable. Ends when the source ends; a bad line throws; a connection lost
 * mid-stream is E_ENGINE_CONNECTION_LOST (or the abort reason when `signal` aborted).
 */
export async function* readJsonLines<T = unknown>(source: Readable | AsyncIterable<Buffer | string>, signal?: AbortSignal): AsyncGenerator<T> {
  const parser = new JsonLinesParser();
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<unknown>;
    try {
      r = await it.next();
    } catch (e) {
      if (e instanceof EngineError) throw e;
      if (signal?.aborted) throw abortReason(signal);
      throw new EngineError(`the connection to the engine was lost mid-stream: ${(e as Error).message}`, { code: 'E_ENGINE_CONNECTION_LOST', cause: e });
    }
    if (r.done) break;
    for (const v of parser.push(r.value as Buffer | string)) yield v as T;
  }
  for (const v of parser.end()) yield v as T;
}

/** The failure a progress line reports, if any. */
export function progressError(m: JsonMessage, route?: string): EngineError | undefined {
  if (m.error === undefined && m.errorDetail === undefined) return undefined;
  const msg = m.errorDetail?.message ?? m.error ?? 'unknown error';
  return new EngineError(`the engine reported: ${msg.trim()}`, {
    code: 'E_ENGINE_PROGRESS_ERROR',
    engineMessage: msg,
    ...(route ? { route } : {}),
    hint: 'the message above is the daemon\'s own (for a build: the failing step\'s output precedes it)',
    details: { ...(m.errorDetail?.code !== undefined ? { errorCode: m.errorDetail.code } : {}) },
  });
}

export interface ProgressResult {
  /** Every `aux` payload, in order (a classic build sends {"ID":"sha256:..."}). */
  aux: unknown[];
  /** Every message, in order (bounded by the caller's patience: builds are small). */
  messages: JsonMessage[];
}

/**
 * Follows a progress stream to its end: calls onMessage for each line, collects `aux` payloads, and rejects with an
 * EngineError on the first `error` line (after reading it; the rest of the stream is discarded).
 */
export async function followProgress(
  source: Readable,
  onMessage?: (m: JsonMessage) => void,
  route?: string,
  signal?: AbortSignal,
): Promise<ProgressResult> {
  const aux: unknown[] = [];
  const messages: JsonMessage[] = [];
  for await (const m of readJsonLines<JsonMessage>(source, signal)) {
    messages.push(m);
    onMessage?.(m);
    const err = progressError(m, route);
    if (err) {
      source.destroy();
      throw err;
    }
    if (m.aux !== undefined) aux.push(m.aux);
  }
  return { aux, messages };
}

/**
 * Docker's multiplexed stream (non-TTY attach, logs, exec): frames of
 *   [stream:1][0:3][size:4 big-endian][payload:size]
 * stream 0 = stdin, 1 = stdout, 2 = stderr, 3 = systemerr (an error from the daemon, as moby's stdcopy treats it).
 * A TTY container sends raw bytes instead: the caller must know which (Config.Tty / the exec's Tty).
 *
 * `FrameParser` parses frames split anywhere across chunks (headers included) without re-copying the buffered
 * bytes on every chunk; zero-length frames are legal and produce an empty payload. `demuxStream` writes payloads to
 * the targets and honours backpressure: when a target's write() returns false, the source is paused until every
 * blocked target has drained.
 */
import type { Readable, Writable } from 'node:stream';
import { EngineError } from '../../util/errors.js';

export const StreamType = { stdin: 0, stdout: 1, stderr: 2, systemerr: 3 } as const;

export interface Frame {
  stream: number;
  payload: Buffer;
}

export const FRAME_HEADER_SIZE = 8;

/** Incremental frame parser: push chunks, get complete frames. */
export class FrameParser {
  #chunks: Buffer[] = [];
  #length = 0;
  /** Size of the frame whose header was read, or -1 while waiting for a header. */
  #need = -1;
  #stream = 0;

  push(chunk: Buffer): Frame[] {
    if (chunk.length) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#length < FRAME_HEADER_SIZE) break;
        const h = this.#take(FRAME_HEADER_SIZE);
        const stream = h[0]!;
        if (stream > 3 || h[1] !== 0 || h[2] !== 0 || h[3] !== 0) {
          throw new EngineError(`not a multiplexed stream (header ${h.toString('hex')}); is the container a TTY?`, {
            code: 'E_ENGINE_STREAM_FORMAT',
            hint: 'read TTY streams raw: pass { tty: true } when Config.Tty (or the exec\'s Tty) is set',
          });
        }
        this.#stream = stream;
        this.#need = h.readUInt32BE(4);
      }
      if (this.#length < this.#need) break;
      frames.push({ stream: this.#stream, payload: this.#take(this.#need) });
      this.#need = -1;
    }
    return frames;
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#length -= n;
    return out;
  }

  /** Bytes held waiting for the rest of a frame (header included). */
  get pending(): number {
    return this.#length + (this.#need >= 0 ? FRAME_HEADER_SIZE : 0);
  }
}

export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(FRAME_HEADER_SIZE);
  h[0] = stream;
  h.writeUInt32BE(p.length, 4);
  return Buffer.concat([h, p]);
}

export interface DemuxOptions {
  /** The stream is a TTY's raw bytes: copy it to stdout as is. */
  tty?: boolean | undefined;
}

/**
 * Demultiplexes `source` into stdout/stderr (or copies it raw with { tty: true }); resolves when the source ends.
 * The targets are not ended. Rejects on a malformed header, a systemerr frame, a source error, or a source that
 * closes in the middle of a frame.
 */
export function demuxStream(source: Readable, stdout: Writable, stderr: Writable, opts: DemuxOptions = {}): Promise<void> {
  const parser = opts.tty ? undefined : new FrameParser();
  return new Promise((resolve, reject) => {
    let blocked = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', finish);
      source.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => {
      blocked--;
      if (blocked === 0 && !settled) source.resume();
    };
    const write = (target: Writable, payload: Buffer) => {
      if (payload.length === 0) return;
      if (!target.write(payload)) {
        blocked++;
        target.once('drain', onDrain);
      }
    };
    const onData = (chunk: Buffer) => {
      if (!parser) write(stdout, chunk);
      else {
        let frames: Frame[];
        try {
          frames = parser.push(chunk);
        } catch (e) {
          source.destroy();
          finish(e as Error);
          return;
        }
        for (const f of frames) {
          if (f.stream === StreamType.systemerr) {
            source.destroy();
            finish(new EngineError(`error from the daemon in the stream: ${f.payload.toString('utf8').trim()}`, { code: 'E_ENGINE_STREAM_ERROR', engineMessage: f.payload.toString('utf8') }));
            return;
          }
          write(f.stream === StreamType.stderr ? stderr : stdout, f.payload);
        }
      }
      if (blocked > 0) source.pause();
    };
    const onEnd = () => {
      if (parser && parser.pending) {
        finish(new EngineError(`the stream ended inside a frame (${parser.pending} bytes pending)`, { code: 'E_ENGINE_STREAM_FORMAT' }));
      } else finish();
    };
    const onClose = () => {
      // A source destroyed without 'end' (connection reset, abort) loses data: say so.
      if (!settled) finish(new EngineError('the stream closed before its end', { code: 'E_ENGINE_STREAM_CLOSED' }));
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', finish);
    source.once('close', onClose);
  });
}

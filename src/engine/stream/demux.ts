/**
 * Docker's multiplexed stream (non-TTY attach, logs, exec): frames of
 *   [stream:1][0:3][size:4 big-endian][payload:size]
 * stream 0 = stdin, 1 = stdout, 2 = stderr (3 = systemerr on newer engines).
 *
 * `demuxStream` parses frames split anywhere across chunks and writes payloads to the target streams while
 * honouring backpressure: when a target's write() returns false, the source is paused until it drains.
 */
import type { Readable, Writable } from 'node:stream';

export const StreamType = { stdin: 0, stdout: 1, stderr: 2, systemerr: 3 } as const;

export interface Frame {
  stream: number;
  payload: Buffer;
}

/** Incremental frame parser: push chunks, get complete frames. */
export class FrameParser {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.#buf.length >= 8) {
      const stream = this.#buf[0]!;
      if (stream > 3 || this.#buf[1] !== 0 || this.#buf[2] !== 0 || this.#buf[3] !== 0) {
        throw new Error(`not a multiplexed stream (header ${this.#buf.subarray(0, 8).toString('hex')}); is the container a TTY?`);
      }
      const size = this.#buf.readUInt32BE(4);
      if (this.#buf.length < 8 + size) break;
      frames.push({ stream, payload: this.#buf.subarray(8, 8 + size) });
      this.#buf = this.#buf.subarray(8 + size);
    }
    return frames;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.#buf.length;
  }
}

export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(p.length, 4);
  return Buffer.concat([h, p]);
}

/** Demultiplexes `source` into stdout/stderr; resolves when the source ends. */
export function demuxStream(source: Readable, stdout: Writable, stderr: Writable): Promise<void> {
  const parser = new FrameParser();
  return new Promise((resolve, reject) => {
    let waiting = 0;
    const onDrain = () => {
      waiting--;
      if (waiting === 0) source.resume();
    };
    source.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = parser.push(chunk);
      } catch (e) {
        source.destroy();
        reject(e as Error);
        return;
      }
      for (const f of frames) {
        const target = f.stream === StreamType.stderr || f.stream === StreamType.systemerr ? stderr : stdout;
        if (!target.write(f.payload)) {
          waiting++;
          target.once('drain', onDrain);
        }
      }
      if (waiting > 0) source.pause();
    });
    source.once('end', () => {
      if (parser.pending) reject(new Error(`stream ended inside a frame (${parser.pending} bytes pending)`));
      else resolve();
    });
    source.once('error', reject);
  });
}

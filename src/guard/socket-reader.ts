import type { Duplex } from 'node:stream';

/**
 * A socket's buffered input, read on demand: the guard reads request heads and bodies from the client, and response
 * heads and bodies from the engine, then may hand the socket over (tunnels). Chunks are kept as received (a list, no
 * copying on arrival); a contiguous view is made only when a head must be parsed across chunks. The socket is paused
 * while HIGH bytes wait, so a fast sender is held back by a slow receiver (backpressure end to end).
 */
export class SocketReader {
  #chunks: Buffer[] = [];
  #length = 0;
  ended = false;
  #wake: (() => void) | undefined;
  readonly sock: Duplex;
  static readonly HIGH = 256 * 1024;

  constructor(sock: Duplex) {
    this.sock = sock;
    sock.on('data', this.#onData);
    sock.on('end', this.#onEnd);
    sock.on('close', this.#onEnd);
  }

  /** bytes waiting */
  get length(): number {
    return this.#length;
  }

  /** all waiting bytes as one buffer (joined once, then kept joined) */
  get buf(): Buffer {
    if (this.#chunks.length === 0) return EMPTY;
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0]!;
  }

  #onData = (d: Buffer) => {
    if (d.length === 0) return;
    this.#chunks.push(d);
    this.#length += d.length;
    if (this.#length >= SocketReader.HIGH) this.sock.pause();
    this.#notify();
  };

  #onEnd = () => {
    this.ended = true;
    this.dispose();
    this.#notify();
  };

  #notify() {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Waits for more input; 'timeout' after ms (0: none). */
  wait(ms: number): Promise<'data' | 'end' | 'timeout'> {
    if (this.ended) return Promise.resolve('end');
    this.sock.resume();
    return new Promise((resolve) => {
      const wake = (r?: 'timeout') => {
        if (this.#wake === wake) this.#wake = undefined;
        if (this.#timeoutOf === wake) this.#timeoutOf = undefined;
        resolve(r ?? (this.ended ? 'end' : 'data'));
      };
      this.#wake = wake;
      if (ms > 0) this.#arm(ms, wake);
    });
  }

  // One timer per reader, re-armed (refresh) rather than re-created for each wait: a keep-alive connection waits
  // for every request head with the same timeout.
  #timer: NodeJS.Timeout | undefined;
  #timerMs = 0;
  #timeoutOf: ((r?: 'timeout') => void) | undefined;
  #arm(ms: number, wake: (r?: 'timeout') => void) {
    this.#timeoutOf = wake;
    if (this.#timer && this.#timerMs === ms) {
      this.#timer.refresh();
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerMs = ms;
    this.#timer = setTimeout(() => {
      const w = this.#timeoutOf;
      this.#timeoutOf = undefined;
      w?.('timeout');
    }, ms);
    this.#timer.unref();
  }

  /** Stops the reader's timer (the connection is done). */
  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timeoutOf = undefined;
  }

  /** The first n waiting bytes (n <= length), as a view where possible. */
  take(n: number): Buffer {
    if (n <= 0) return EMPTY;
    let first = this.#chunks[0]!;
    if (first.length < n) {
      this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
      first = this.#chunks[0]!;
    }
    const out = first.length === n ? first : first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
    if (this.#length < SocketReader.HIGH) this.sock.resume();
    return out;
  }

  /** Up to max waiting bytes without copying: (part of) the first chunk. */
  takeSome(max: number): Buffer {
    const first = this.#chunks[0];
    if (!first) return EMPTY;
    return this.take(Math.min(max, first.length));
  }

  unshift(b: Buffer): void {
    if (!b.length) return;
    this.#chunks.unshift(b);
    this.#length += b.length;
  }

  /** Stops reading; returns what was buffered. The caller owns the socket from now on. */
  detach(): Buffer {
    this.dispose();
    this.sock.removeListener('data', this.#onData);
    this.sock.removeListener('end', this.#onEnd);
    this.sock.removeListener('close', this.#onEnd);
    this.sock.pause();
    const b = this.buf;
    this.#chunks = [];
    this.#length = 0;
    return b;
  }
}

const EMPTY = Buffer.alloc(0);

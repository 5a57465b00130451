/**
 * Write-side flow control shared by the forward path, tunnels and image loads: how much may wait in a socket's write
 * buffer before its source is held back, and chunked framing of one piece.
 */
import type { Duplex } from 'node:stream';

/**
 * How much may wait in a socket's write buffer before the sender is held back. Node's default (16 KiB, less than one
 * 64 KiB read) would stop the flow after every read; a wider window keeps both sockets busy.
 */
export const WINDOW = 1024 * 1024;

/** Resolves on 'drain' or when the socket is gone. */
export function drained(s: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.removeListener('drain', done);
      s.removeListener('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** Writes b; returns a promise to await only when more than WINDOW bytes wait to be written. */
export function push(out: Duplex, b: Buffer): Promise<void> | undefined {
  out.write(b);
  return out.writableLength > WINDOW ? drained(out) : undefined;
}

/** Writes b as one HTTP/1.1 chunk (one writev); like push, a promise only when the window is full. */
export function pushChunk(out: Duplex, b: Buffer): Promise<void> | undefined {
  out.cork();
  out.write(`${b.length.toString(16)}\r\n`, 'latin1');
  out.write(b);
  out.write('\r\n', 'latin1');
  out.uncork();
  return out.writableLength > WINDOW ? drained(out) : undefined;
}

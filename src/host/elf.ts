/** The ELF program interpreter (PT_INTERP) of a binary: "no such file" from exec often means it is missing. */
import { open } from 'node:fs/promises';

export async function elfInterpreter(path: string): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    if (!is64 || !le) return undefined;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = Math.min(head.readUInt16LE(56), 64);
    const ph = Buffer.alloc(phentsize * phnum);
    await fh.read(ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (ph.readUInt32LE(o) !== 3) continue; // PT_INTERP
      const off = Number(ph.readBigUInt64LE(o + 8));
      const size = Math.min(Number(ph.readBigUInt64LE(o + 32)), 4096);
      const b = Buffer.alloc(size);
      await fh.read(b, 0, size, off);
      return b.toString('utf8').replace(/\0.*$/s, '');
    }
    return undefined; // static
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/**
 * Removes what a test created, even when the test failed: register objects as they are made, call cleanup() in
 * after(). Removal errors (already gone) are ignored; anything else is reported.
 */
import type { Engine } from '../../src/engine/client.js';
import { EngineError } from '../../src/util/errors.js';

type Kind = 'container' | 'network' | 'volume' | 'image';

export class Cleanup {
  readonly #items: { kind: Kind; id: string }[] = [];
  readonly engine: Engine;
  constructor(engine: Engine) {
    this.engine = engine;
  }

  add(kind: Kind, id: string): string {
    this.#items.push({ kind, id });
    return id;
  }

  /** Removes everything whose name or label starts with prefix (belt and braces after add()). */
  async sweepPrefix(prefix: string): Promise<void> {
    const cs = await this.engine.json<{ Id: string; Names: string[] }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
    for (const c of cs) if (c.Names.some((n) => n.replace(/^\//, '').startsWith(prefix))) this.add('container', c.Id);
    const ns = await this.engine.json<{ Id: string; Name: string }[]>({ method: 'GET', path: '/networks' });
    for (const n of ns) if (n.Name.startsWith(prefix)) this.add('network', n.Id);
    const vs = await this.engine.json<{ Volumes: { Name: string }[] | null }>({ method: 'GET', path: '/volumes' });
    for (const v of vs.Volumes ?? []) if (v.Name.startsWith(prefix)) this.add('volume', v.Name);
  }

  async run(): Promise<void> {
    const order: Kind[] = ['container', 'network', 'volume', 'image'];
    const errors: string[] = [];
    for (const kind of order) {
      for (const { id } of this.#items.filter((i) => i.kind === kind)) {
        try {
          await this.remove(kind, id);
        } catch (e) {
          if (e instanceof EngineError && (e.statusCode === 404 || e.statusCode === 409)) continue;
          errors.push(`${kind} ${id}: ${String(e)}`);
        }
      }
    }
    this.#items.length = 0;
    if (errors.length) throw new Error(`cleanup failed:\n${errors.join('\n')}`);
  }

  private async remove(kind: Kind, id: string): Promise<void> {
    const e = encodeURIComponent(id);
    switch (kind) {
      case 'container':
        return this.engine.call({ method: 'DELETE', path: `/containers/${e}`, query: { force: true, v: true } });
      case 'network':
        return this.engine.call({ method: 'DELETE', path: `/networks/${e}` });
      case 'volume':
        return this.engine.call({ method: 'DELETE', path: `/volumes/${e}`, query: { force: true } });
      case 'image':
        return this.engine.call({ method: 'DELETE', path: `/images/${e}`, query: { force: true } });
    }
  }
}

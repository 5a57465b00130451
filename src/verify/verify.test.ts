import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProbeOutput, probeScript } from './probe-script.js';
import { renderVerifyTable, verifyMode, type RunFn } from './verify.js';
import { EngineError } from '../util/errors.js';
import type { Engine } from '../engine/client.js';

describe('verify framing (our own code; the behaviour of modes is proven in test/integration/doctor/verify-table)', () => {
  it('parses KEY=VALUE lines, last wins, ignores noise', () => {
    const m = parseProbeOutput('noise\nV_A=1\nV_B=x=y\nV_A=2\n  V_C=  \n');
    assert.equal(m.get('V_A'), '2');
    assert.equal(m.get('V_B'), 'x=y');
    assert.equal(m.get('V_C'), '');
  });
  it('the script quotes what it embeds', () => {
    const s = probeScript({ id: 'i', markerLabel: "a'b", sentinelLabel: 's', sentinelName: 'n', markerFile: '/tmp/f', token: 't', hostImage: 'img' });
    assert.match(s, /'a'\\''b'/);
  });
  it('a mode that cannot run is a column with the reason, and the host side cleans up', async () => {
    const calls: string[] = [];
    const fakeEngine = {
      endpoint: { url: 'unix:///x' },
      json: (o: { method: string; path: string }) => {
        calls.push(`${o.method} ${o.path}`);
        if (o.path === '/info') return Promise.resolve({ ID: 'HOST' });
        if (o.path === '/containers/create') return Promise.resolve({ Id: 'sentinel' });
        if (o.path === '/containers/json') return Promise.resolve([]);
        return Promise.reject(new EngineError('nope', { code: 'E', statusCode: 404 }));
      },
      call: (o: { method: string; path: string }) => {
        calls.push(`${o.method} ${o.path}`);
        return Promise.resolve();
      },
    } as unknown as Engine;
    const dir = mkdtempSync(join(tmpdir(), 'nst-verify-unit-'));
    const run: RunFn = () => Promise.reject(new Error('mode sysbox is not applicable on this host'));
    const m = await verifyMode(fakeEngine, 'sysbox', run, { markerDir: dir, hostImage: 'img' });
    assert.equal(m.ran, false);
    assert.match(m.error ?? '', /not applicable/);
    assert.ok(calls.includes('DELETE /containers/sentinel'));
    assert.deepEqual(readdirSync(dir), []);
    const table = renderVerifyTable([m]);
    assert.match(table[0] ?? '', /sysbox/);
    assert.ok(table.some((l) => /sysbox: mode sysbox is not applicable/.test(l)));
  });
});

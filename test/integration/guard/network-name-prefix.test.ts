// A network name that is only another owner's network id prefix: the daemon creates it (names are unique by name,
// not by id prefix), and the guard must too: a 409 would tell the job that such a network exists. Two-sided.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { Cleanup } from '../../harness/cleanup.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { run, DOCKER_28, startTestGuard, type TestGuard } from './helpers.js';

describe('guard: network names and other owners\' id prefixes', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gnetpfx');
  const owner = `${prefix}-owner`;

  before(async () => {
    d = await useDockerd();
    cleanup = new Cleanup(d.engine);
    g = await startTestGuard(d, owner);
  });
  after(async () => {
    await g?.close();
    await reapOwner(d.engine, owner).catch(() => undefined);
    await cleanup.run();
  });

  it('a name equal to another owner\'s network id prefix is created, as the daemon does; a name another owner uses is 409', async () => {
    const foreign = `${prefix}-foreign`;
    const f = await run(DOCKER_28, ['network', 'create', foreign], { env: { DOCKER_HOST: d.url } });
    assert.equal(f.code, 0, f.stderr);
    cleanup.add('network', foreign);
    const id = f.stdout.trim();
    const name = id.slice(0, 12);
    const viaGuard = await run(DOCKER_28, ['network', 'create', name], { env: { DOCKER_HOST: g.url } });
    assert.equal(viaGuard.code, 0, `the guard must not reveal the foreign id prefix: ${viaGuard.stderr}`);
    cleanup.add('network', name);
    // the daemon agrees: a second one of that name directly is refused by name, not by prefix
    const ls = await run(DOCKER_28, ['network', 'ls', '-q', '--filter', `name=^${name}$`], { env: { DOCKER_HOST: d.url } });
    assert.equal(ls.stdout.trim().split('\n').filter(Boolean).length, 1);
    // a real name conflict with another owner's network is still refused (and says nothing of whose it is)
    const conflict = await run(DOCKER_28, ['network', 'create', foreign], { env: { DOCKER_HOST: g.url } });
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /denied by rule name-conflict: Name=/);
  });
});

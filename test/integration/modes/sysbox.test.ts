import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { gatherFacts } from '../../../src/modes/facts.js';
import { detectSysbox, SYSBOX_RUNTIME } from '../../../src/modes/sysbox.js';
import { isNestlingError } from '../../../src/util/errors.js';
import { runJobForTest } from './helpers.js';

describe('mode sysbox (detection and the error path; Sysbox itself cannot be installed here)', () => {
  let d: TestDaemon;
  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
  });

  it('reads the runtimes from docker info', async () => {
    const facts = await gatherFacts(d.engine);
    assert.ok(facts.runtimes.includes('runc'), facts.runtimes.join(','));
    const det = detectSysbox(facts);
    assert.equal(det.applicable, facts.runtimes.includes(SYSBOX_RUNTIME));
    if (!det.applicable) assert.match(det.reasons[0]!, /no sysbox-runc runtime/);
  });

  it('without sysbox-runc: a clear error, exit 3, saying what the host needs, and nothing created', async (t) => {
    const facts = await gatherFacts(d.engine);
    if (facts.runtimes.includes(SYSBOX_RUNTIME)) return t.skip('this engine has Sysbox');
    await assert.rejects(
      runJobForTest(d.engine, { mode: 'sysbox', cmd: ['docker', 'version'] }),
      (e) => isNestlingError(e) && e.code === 'E_MODE_SYSBOX_MISSING' && e.exitCode === 3 && /sysbox-ce|Sysbox installed/.test(e.hint ?? ''),
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCapMask, isCapsFailure, knownCapabilities, missingCapabilities, privilegedEquivalentHostConfig } from './privilege.js';

describe('privilege', () => {
  it('decodes a bounding set without CAP_SYS_RESOURCE (this host: 000001fffeffffff)', () => {
    const caps = decodeCapMask('000001fffeffffff');
    assert.equal(caps.length, 40);
    assert.ok(!caps.includes('SYS_RESOURCE'));
    assert.ok(caps.includes('SYS_ADMIN'));
    assert.ok(caps.includes('CHECKPOINT_RESTORE'));
  });
  it('knows which capabilities Docker 20.10 accepts (not BPF, PERFMON, CHECKPOINT_RESTORE)', () => {
    const k20 = knownCapabilities('20.10.24+dfsg1');
    assert.equal(k20.at(-1), 'AUDIT_READ');
    assert.ok(!k20.includes('BPF'));
    assert.ok(knownCapabilities('27.3.1').includes('BPF'));
  });
  it('lists what the bounding set lacks', () => {
    assert.deepEqual(missingCapabilities(decodeCapMask('000001fffeffffff'), knownCapabilities('20.10.24')), ['SYS_RESOURCE']);
  });
  it('builds the explicit equivalent of --privileged', () => {
    const hc = privilegedEquivalentHostConfig(['SYS_ADMIN', 'NET_ADMIN']);
    assert.deepEqual(hc.CapAdd, ['SYS_ADMIN', 'NET_ADMIN']);
    assert.deepEqual(hc.MaskedPaths, []);
    assert.deepEqual(hc.ReadonlyPaths, []);
    assert.ok((hc.SecurityOpt as string[]).includes('seccomp=unconfined'));
    assert.equal(hc.Privileged, undefined);
  });
  it('recognises runc\'s caps failure', () => {
    assert.ok(isCapsFailure('OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown'));
    assert.ok(!isCapsFailure('no such image'));
  });
});

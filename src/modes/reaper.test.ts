import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidLabelFor, pidLiveness, processStartTime } from './reaper.js';

describe('pid labels', () => {
  let proc: string;
  before(() => {
    proc = mkdtempSync(join(tmpdir(), 'nst-proc-'));
    mkdirSync(join(proc, '42'));
    // comm with spaces and parentheses: the parser must split after the last ')'
    writeFileSync(join(proc, '42', 'stat'), `42 (a (b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 1 1 1\n`);
  });
  after(() => rmSync(proc, { recursive: true, force: true }));

  it('reads the start time (field 22)', () => {
    assert.equal(processStartTime(42, proc), '777');
    assert.equal(processStartTime(43, proc), undefined);
  });
  it('tells alive, dead (gone or pid reused) and unknown (other host, long-lived)', () => {
    assert.equal(pidLabelFor('h', 42, proc), 'h:42:777');
    assert.equal(pidLiveness('h:42:777', 'h', proc), 'alive');
    assert.equal(pidLiveness('h:42:778', 'h', proc), 'dead');
    assert.equal(pidLiveness('h:43:1', 'h', proc), 'dead');
    assert.equal(pidLiveness('other:42:777', 'h', proc), 'unknown');
    assert.equal(pidLiveness('none', 'h', proc), 'unknown');
    assert.equal(pidLiveness(undefined, 'h', proc), 'unknown');
  });
});

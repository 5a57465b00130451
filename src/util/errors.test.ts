import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError, ExitCode, exitCodeFor, httpStatusFor, isNestlingError, policyDenied, usageError } from './errors.js';

test('exit codes follow the category, through the cause chain', () => {
  const inner = usageError('E_USAGE', 'bad flag');
  const outer = new Error('wrapped', { cause: inner });
  assert.equal(exitCodeFor(outer), ExitCode.Usage);
  assert.equal(exitCodeFor(new Error('plain')), ExitCode.Internal);
  assert.equal(exitCodeFor(new EngineError('down', { code: 'E_ENGINE_UNREACHABLE' })), ExitCode.Engine);
  assert.equal(exitCodeFor(policyDenied('E_POLICY', 'no')), ExitCode.PolicyDenied);
});

test('http status follows the category; engine errors keep the daemon status', () => {
  assert.equal(httpStatusFor(policyDenied('E_POLICY', 'no')), 403);
  assert.equal(httpStatusFor(new EngineError('x', { code: 'E_ENGINE_NOT_FOUND', statusCode: 404 })), 404);
  assert.equal(httpStatusFor(new EngineError('x', { code: 'E_ENGINE_UNREACHABLE' })), 502);
  assert.equal(httpStatusFor(new Error('bug')), 500);
});

test('errors are branded across package copies and serialise for --json', () => {
  const e = usageError('E_USAGE', 'bad', { hint: 'try --help', details: { flag: '--x' } });
  assert.ok(isNestlingError(e));
  assert.ok(!isNestlingError(new Error('x')));
  assert.deepEqual(e.toJSON(), { code: 'E_USAGE', category: 'usage', message: 'bad', hint: 'try --help', details: { flag: '--x' } });
});

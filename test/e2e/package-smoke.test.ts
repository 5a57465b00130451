/** The built package imports by its own name (package.json exports) without side effects, and exposes its API. */
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('import("nestling") resolves the built entry and exposes the library API', async () => {
  const pkg = (await import('nestling')) as Record<string, unknown>;
  for (const name of ['Engine', 'resolveEndpoint', 'startGuard', 'reapOwner', 'decide', 'defaultPolicy', 'runWithMode', 'chooseMode', 'runDoctor', 'runAudit', 'generateK8s', 'generateCi', 'NestlingError']) {
    assert.equal(typeof pkg[name], 'function', `${name} is exported`);
  }
  assert.equal((pkg.Labels as Record<string, string>).owner, 'io.nestling.owner');
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_SCOPES, parseScopes, scopeGrants, scopesBeyond } from '../../src/http/scopes.js';

describe('scopes', () => {
  it('has read, manage and delete for every resource except audit, which is read only', () => {
    assert.ok(ALL_SCOPES.includes('components.manage'));
    assert.ok(ALL_SCOPES.includes('audit.read'));
    assert.ok(!ALL_SCOPES.includes('audit.manage'));
    assert.ok(!ALL_SCOPES.includes('audit.delete'));
  });

  it('refuses an empty list and unknown names', () => {
    assert.equal(parseScopes([]).ok, false);
    assert.equal(parseScopes(['', ' ']).ok, false);
    const unknown = parseScopes(['components.manage', 'components.write']);
    assert.ok(!unknown.ok && unknown.error.includes('components.write'));
  });

  it('trims names, drops blanks and duplicates, and says exactly what is wrong', () => {
    assert.deepEqual(parseScopes([' components.read ', '', 'components.read', '  ']), { ok: true, scopes: ['components.read'] });
    assert.deepEqual(parseScopes(['', ' ']), { ok: false, error: 'at least one scope is required' });
    assert.deepEqual(parseScopes(['components.read', 'nope', 'also.bad']), { ok: false, error: 'unknown scope "nope", "also.bad"' });
  });

  it('lets manage imply read, and nothing else imply anything', () => {
    assert.ok(scopeGrants(['components.manage'], 'components.read'));
    assert.ok(!scopeGrants(['components.manage'], 'components.delete'));
    assert.ok(!scopeGrants(['components.delete'], 'components.read'));
    assert.ok(!scopeGrants(['components.read'], 'components.manage'));
    assert.ok(!scopeGrants(['component-groups.manage'], 'components.read'));
    assert.ok(scopeGrants(['*'], 'keys.delete'));
    assert.ok(!scopeGrants(['components.read'], '*'));
  });

  it('names the scopes a key cannot grant to a new key', () => {
    assert.deepEqual(scopesBeyond(['components.manage'], ['components.read', 'components.manage']), []);
    assert.deepEqual(scopesBeyond(['components.manage'], ['components.delete', '*']), ['components.delete', '*']);
    assert.deepEqual(scopesBeyond(['*'], ['*', 'keys.manage']), []);
  });
});

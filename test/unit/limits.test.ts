/** Resource limit parsing and the no-escalation rule between two keys' limits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { limitableResourceOf, limitsBeyond, parseResourceLimits } from '../../src/http/limits.js';

describe('resource limits', () => {
  it('normalises a limit map: ids deduplicated and sorted', () => {
    assert.deepEqual(parseResourceLimits({ components: [9, 7, 9], incidents: [3] }), { ok: true, limits: { components: [7, 9], incidents: [3] } });
  });

  it('refuses unknown resources, bad ids, empty lists and more than 100 ids', () => {
    for (const input of [null, [], 'components:7', {}, { keys: [1] }, { components: [] }, { components: [0] }, { components: [-1] }, { components: [1.5] }, { components: ['7'] }, { components: [2 ** 60] }, { components: 7 }]) {
      assert.equal(parseResourceLimits(input).ok, false, JSON.stringify(input));
    }
    assert.equal(parseResourceLimits({ components: Array.from({ length: 100 }, (_, i) => i + 1) }).ok, true);
    assert.equal(parseResourceLimits({ components: Array.from({ length: 101 }, (_, i) => i + 1) }).ok, false);
    // A prototype key is not a resource.
    assert.equal(parseResourceLimits(JSON.parse('{"__proto__": [1]}')).ok, false);
  });

  it('lets an unlimited key grant anything, and a limited key only within its own ids', () => {
    assert.deepEqual(limitsBeyond(null, null), []);
    assert.deepEqual(limitsBeyond(null, { components: [1] }), []);
    const caller = { components: [7, 9] };
    assert.deepEqual(limitsBeyond(caller, { components: [7] }), []);
    assert.deepEqual(limitsBeyond(caller, { components: [9, 7], incidents: [1] }), []);
    assert.equal(limitsBeyond(caller, null).length, 1);
    assert.equal(limitsBeyond(caller, { incidents: [1] }).length, 1);
    assert.match(limitsBeyond(caller, { components: [7, 8] })[0]!, /outside its own \(8\)/);
  });

  it('maps nested scope resources to the resource that limits them', () => {
    assert.equal(limitableResourceOf('incident-updates'), 'incidents');
    assert.equal(limitableResourceOf('metric-points'), 'metrics');
    assert.equal(limitableResourceOf('components'), 'components');
    assert.equal(limitableResourceOf('keys'), null);
    assert.equal(limitableResourceOf('subscribers'), null);
  });
});

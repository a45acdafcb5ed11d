import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from '../../src/infra/uuid.js';

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying the millisecond it was made', () => {
    const at = Date.UTC(2026, 11, 3, 18, 0, 0, 123);
    const id = uuidv7(at);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
  });

  it('sorts by time as text, and 100,000 ids made in a burst are distinct', () => {
    const earlier = uuidv7(1_700_000_000_000);
    const later = uuidv7(1_700_000_000_001);
    assert.ok(earlier < later);
    const ids = new Set(Array.from({ length: 100_000 }, () => uuidv7()));
    assert.equal(ids.size, 100_000);
  });

  it('spreads its random bits: every hex digit of the random part takes many values', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7(0).replace(/-/g, ''));
    // Positions 13–15 (rand_a), 17–31 (rand_b); 12 is the version, 16 the variant.
    for (const position of [13, 14, 15, ...Array.from({ length: 15 }, (_, i) => 17 + i)]) {
      const seen = new Set(ids.map((id) => id[position]));
      assert.equal(seen.size, 16, `position ${position}`);
    }
    assert.deepEqual(new Set(ids.map((id) => id[16])), new Set(['8', '9', 'a', 'b']));
  });
});

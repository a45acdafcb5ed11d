/** The in-memory rate limiter: fixed windows per bucket, peeking without counting, bounded by bucket count. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryRateLimiter } from '../../src/infra/rate-limit.js';

function clock(start = 1_000_000) {
  let at = start;
  return { now: () => at, advance: (ms: number) => (at += ms) };
}

describe('memoryRateLimiter', () => {
  it('counts a fixed window from the first request: remaining, reset, and the refusal past the limit', async () => {
    const time = clock();
    const limiter = memoryRateLimiter({ now: time.now });
    const seen = [];
    for (let i = 0; i < 4; i++) {
      seen.push(await limiter.consume('key:1', 3, 60));
      time.advance(1000);
    }
    assert.deepEqual(seen, [
      { allowed: true, limit: 3, remaining: 2, resetMs: 60_000 },
      { allowed: true, limit: 3, remaining: 1, resetMs: 59_000 },
      { allowed: true, limit: 3, remaining: 0, resetMs: 58_000 },
      { allowed: false, limit: 3, remaining: 0, resetMs: 57_000 },
    ]);
    time.advance(55_999);
    assert.equal((await limiter.consume('key:1', 3, 60)).allowed, false, 'one millisecond before the window ends');
    time.advance(1);
    assert.deepEqual(await limiter.consume('key:1', 3, 60), { allowed: true, limit: 3, remaining: 2, resetMs: 60_000 }, 'a new window at its end');
  });

  it('peeks without counting, and keeps buckets apart by name, limit and window', async () => {
    const time = clock();
    const limiter = memoryRateLimiter({ now: time.now });
    assert.equal(await limiter.peek('fail:10.0.0.1', 2, 60), null);
    await limiter.consume('fail:10.0.0.1', 2, 60);
    time.advance(10_000);
    assert.deepEqual(await limiter.peek('fail:10.0.0.1', 2, 60), { allowed: true, limit: 2, remaining: 1, resetMs: 50_000 });
    assert.deepEqual(await limiter.peek('fail:10.0.0.1', 2, 60), { allowed: true, limit: 2, remaining: 1, resetMs: 50_000 }, 'a peek does not count');
    await limiter.consume('fail:10.0.0.1', 2, 60);
    assert.equal((await limiter.peek('fail:10.0.0.1', 2, 60))!.allowed, false, 'one more would be over');
    assert.equal(await limiter.peek('fail:10.0.0.2', 2, 60), null);
    assert.equal(await limiter.peek('fail:10.0.0.1', 5, 60), null, 'another limit is another bucket');
    assert.equal((await limiter.consume('fail:10.0.0.1', 2, 30)).remaining, 1, 'another window is another bucket');
    time.advance(50_000);
    assert.equal(await limiter.peek('fail:10.0.0.1', 2, 60), null, 'an ended window is no bucket');
  });

  it('drops ended windows as new ones start, and holds at most maxBuckets, dropping the oldest window', async () => {
    const time = clock();
    const limiter = memoryRateLimiter({ now: time.now, maxBuckets: 3 });
    for (const name of ['a', 'b', 'c']) {
      await limiter.consume(name, 10, 60);
      time.advance(1000);
    }
    assert.equal(limiter.size(), 3);
    await limiter.consume('d', 10, 60);
    assert.equal(limiter.size(), 3);
    assert.equal(await limiter.peek('a', 10, 60), null, 'the oldest window went first');
    for (const name of ['b', 'c', 'd']) assert.equal((await limiter.peek(name, 10, 60))?.remaining, 9, name);
    // Windows started at 1 s (b), 2 s (c) and 3 s (d); at 62.5 s those of b and c have ended.
    await limiter.consume('b', 10, 60);
    time.advance(59_500);
    assert.equal(limiter.size(), 3, 'nothing is dropped until a new window starts');
    await limiter.consume('e', 10, 60);
    assert.equal(limiter.size(), 2, 'b and c dropped, d and e held');
    assert.equal((await limiter.peek('d', 10, 60))?.remaining, 9);
  });

  it('stays within its bound under a flood of new addresses', async () => {
    const time = clock();
    const limiter = memoryRateLimiter({ now: time.now, maxBuckets: 1000 });
    for (let i = 0; i < 50_000; i++) await limiter.consume(`ip:2001:db8::${i.toString(16)}`, 60, 60);
    assert.equal(limiter.size(), 1000);
    assert.equal((await limiter.peek('ip:2001:db8::c34f', 60, 60))?.remaining, 59, 'the newest are kept');
  });
});

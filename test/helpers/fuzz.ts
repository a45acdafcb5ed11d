/** Hostile field values for "never a 500" tests: wrong types, unicode, oversized, null, edge numbers. */
import assert from 'node:assert/strict';
import type { TestApp } from './app.js';

/** Values to put in each field of an otherwise valid body. */
export const FUZZ_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -2_147_483_649,
  1e308,
  -1e308,
  '1e999',
  'NaN',
  'Infinity',
  '0x10',
  '',
  ' ',
  'abc',
  '日本語 🚀 Ünïcödé \u202e',
  "'; drop table metrics; --",
  '\u0000',
  'x'.repeat(70_000),
  [],
  [1, 2],
  [5],
  {},
  { a: 1 },
];

/**
 * Sends `base` with each field in turn replaced by each fuzz value (and dropped), and whole bodies
 * that are not objects; asserts no response is a 5xx and every 2xx is JSON.
 */
export async function assertNoServerErrors(t: TestApp, request: { method: string; url: string; token: string }, base: Record<string, unknown>): Promise<void> {
  const bodies: unknown[] = [];
  for (const field of Object.keys(base)) {
    for (const value of FUZZ_VALUES) bodies.push({ ...base, [field]: value });
    const { [field]: _dropped, ...rest } = base;
    bodies.push(rest);
  }
  for (const body of bodies) {
    const response = await t.request({ ...request, body });
    assert.ok(response.statusCode < 500, `${request.method} ${request.url} ${JSON.stringify(body).slice(0, 200)} → ${response.statusCode} ${response.body.slice(0, 300)}`);
    if (response.statusCode < 300 && response.statusCode !== 204) JSON.parse(response.body);
  }
  for (const raw of ['[1,2]', '"text"', '42', 'null', '{"a":']) {
    const response = await t.request({ ...request, headers: { 'content-type': 'application/json' }, body: raw });
    assert.ok(response.statusCode < 500, `${request.method} ${request.url} raw ${raw} → ${response.statusCode}`);
  }
}

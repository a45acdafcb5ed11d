/**
 * Security review finding 1: `Time-Zone` names are mapped to one canonical spelling before they
 * reach the date library, whose caches are keyed by the exact string and never evicted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildTestApp, json, type TestApp } from '../helpers/app.js';

/** `zone` with the case of its letters flipped by the bits of `n`: a distinct spelling per `n`. */
function caseVariant(zone: string, n: number): string {
  let bit = 0;
  return [...zone].map((c) => (/[a-z]/i.test(c) ? ((n >> bit++) & 1 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c) : c)).join('');
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('finding 1: Time-Zone names cannot grow the server (sqlite)', () => {
  let t: TestApp;
  let id: number;
  let writer: string;
  before(async () => {
    t = await buildTestApp('sqlite');
    writer = await t.key(['components.manage']);
    id = json(await t.request({ method: 'POST', url: '/api/v1/components', token: writer, body: { name: 'API', status: 1 } })).data.id;
  });
  after(() => t.close());

  it('reads a zone name in any letter case as its canonical zone', async () => {
    const canonical = json(await t.request({ url: `/api/v1/components/${id}`, headers: { 'time-zone': 'America/Mexico_City' } })).data;
    const shouted = await t.request({ url: `/api/v1/components/${id}`, headers: { 'time-zone': 'aMeRiCa/mExIcO_cItY' } });
    assert.equal(shouted.statusCode, 200);
    assert.equal(json(shouted).data.created_at, canonical.created_at);
    assert.notEqual(canonical.created_at, json(await t.request({ url: `/api/v1/components/${id}` })).data.created_at);
    // Current IANA names that older ICU data knows only under former ids still work.
    assert.equal((await t.request({ url: `/api/v1/components/${id}`, headers: { 'time-zone': 'asia/kolkata' } })).statusCode, 200);
    assert.equal((await t.request({ url: `/api/v1/components/${id}`, headers: { 'time-zone': 'Mars/Olympus_Mons' } })).statusCode, 400);
  });

  it('keeps memory flat over thousands of distinct spellings: only canonical names reach the date library', async () => {
    const zones = ['America/Argentina/Buenos_Aires', 'America/Indiana/Indianapolis', 'Pacific/Port_Moresby', 'America/Kentucky/Louisville'];
    // Every zone string that reaches Intl (luxon builds its cached formatters through it).
    const seen = new Set<string>();
    const RealDateTimeFormat = Intl.DateTimeFormat;
    const spy = function (locales?: string | string[], options?: Intl.DateTimeFormatOptions) {
      if (options?.timeZone) seen.add(options.timeZone);
      return new RealDateTimeFormat(locales, options);
    } as unknown as typeof Intl.DateTimeFormat;
    spy.supportedLocalesOf = RealDateTimeFormat.supportedLocalesOf.bind(RealDateTimeFormat);
    const send = async (from: number, count: number) => {
      for (let n = from; n < from + count; n++) {
        const zone = caseVariant(zones[n % zones.length]!, Math.floor(n / zones.length) + 1);
        const response = await t.request({ url: `/api/v1/components/${id}`, headers: { 'time-zone': zone } });
        assert.equal(response.statusCode, 200, zone);
        // Let the event loop run: inject() finishes each response in a setImmediate.
        if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    };
    // Warm up until the allocator's footprint settles, then measure.
    await send(0, 2000);
    collectGarbage();
    const before = process.memoryUsage().rss;
    Intl.DateTimeFormat = spy;
    try {
      await send(2000, 5000);
    } finally {
      Intl.DateTimeFormat = RealDateTimeFormat;
    }
    collectGarbage();
    const grown = process.memoryUsage().rss - before;
    assert.ok([...seen].every((zone) => zones.includes(zone)), `non-canonical zone names reached Intl: ${[...seen].slice(0, 5).join(', ')}`);
    // Before the fix every new spelling stayed in the date library's caches: about 290 MB here.
    assert.ok(grown < 150 * 1024 * 1024, `RSS grew by ${(grown / 1024 / 1024).toFixed(1)} MB over 5,000 spellings`);
  });
});


// The test command of mutation testing (stryker.config.json, `npm run mutate`). Stryker's command
// runner names the active mutant in __STRYKER_ACTIVE_MUTANT__ and nothing else; this script finds
// which source file holds that mutant (in the instrumented sandbox it runs in) and runs the test
// files that exercise that file, fastest and most telling first, stopping at the first failure
// (each file alone, in order). A mutant one of these lists misses counts as survived: the lists can only
// under-state the score, never inflate it. Without an active mutant (Stryker's dry run) it runs
// every list once.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';

const UNIT = ['test/unit/token.test.ts', 'test/unit/scopes.test.ts', 'test/unit/input.test.ts', 'test/unit/config.test.ts', 'test/unit/secret-file.test.ts'];
// The keys service's list: the suites that drive it, fastest and most telling first. Not here, because
// they reach the service only through app.key() and every survivor would pay for them: security,
// key-verification (about 15 s a mutant on an idle machine).
const KEYS = [
  'test/api/keys-service.test.ts', 'test/api/verifier.test.ts', 'test/api/keys-api.test.ts', 'test/api/key-time-limits.test.ts',
  'test/api/resource-limits.test.ts', 'test/api/review-findings.test.ts', 'test/api/stored-secrets.test.ts', 'test/api/key-rotation-schedule.test.ts',
  'test/api/audit-trail.test.ts', 'test/api/rate-limits.test.ts',
];
const REQUESTS = ['test/api/security.test.ts', 'test/api/key-verification.test.ts', 'test/api/verifier.test.ts', 'test/api/components.test.ts', 'test/api/resource-limits.test.ts', 'test/api/keys-api.test.ts', 'test/api/rate-limits.test.ts', 'test/api/audit-trail.test.ts', 'test/api/review-findings.test.ts'];

/** Each mutated file (stryker.config.json's `mutate`) and the tests to run for its mutants, in order. */
const TESTS = {
  'src/infra/token.ts': [...UNIT, 'test/api/key-verification.test.ts', 'test/api/verifier.test.ts', 'test/api/keys-service.test.ts', 'test/api/security.test.ts', 'test/api/review-findings.test.ts'],
  'src/infra/crypto.ts': [...UNIT, 'test/api/stored-secrets.test.ts', 'test/api/key-verification.test.ts', 'test/api/keys-service.test.ts', 'test/api/security.test.ts'],
  'src/infra/cidr.ts': [...UNIT, 'test/api/review-findings.test.ts', 'test/api/keys-service.test.ts', 'test/api/keys-api.test.ts', 'test/api/security.test.ts', 'test/api/rate-limits.test.ts'],
  'src/http/scopes.ts': [...UNIT, ...REQUESTS],
  'src/http/auth.ts': ['test/unit/auth.test.ts', ...REQUESTS, 'test/api/key-time-limits.test.ts', ...UNIT],
  'src/features/keys/keys.verify.ts': ['test/api/verifier.test.ts', 'test/api/key-verification.test.ts', 'test/api/key-time-limits.test.ts', 'test/api/review-findings.test.ts', 'test/api/keys-api.test.ts', 'test/api/security.test.ts', 'test/api/resource-limits.test.ts', 'test/api/rate-limits.test.ts', 'test/api/key-rotation-schedule.test.ts'],
  'src/features/keys/keys.service.ts': KEYS,
};

function fileOf(mutant) {
  for (const file of Object.keys(TESTS)) {
    // Stryker's instrumented code marks each mutant as stryMutAct_9fa48("<id>").
    const ids = readFileSync(file, 'utf8').matchAll(/stryMutAct_9fa48\("(\d+)"\)/g);
    for (const [, id] of ids) if (id === mutant) return file;
  }
  return undefined;
}

const mutant = process.env.__STRYKER_ACTIVE_MUTANT__;
const file = mutant === undefined ? undefined : fileOf(mutant);
// CACHET_MUTATION_TESTS=<file,file,...> replaces the list for a run over part of a file, whose
// code only some suites reach (survivors cost the whole list; the hand checks that follow a run
// settle what a shorter list misses).
const chosen = process.env.CACHET_MUTATION_TESTS?.split(',').filter(Boolean);
const files = chosen?.length ? chosen : file ? TESTS[file] : [...new Set(Object.values(TESTS).flat())];
const env = { ...process.env, CACHET_TEST_DIALECTS: 'sqlite', CACHET_TEST_TIMEOUT_MS: process.env.CACHET_TEST_TIMEOUT_MS ?? '60000' };
// CACHET_MUTATION_LOG=<file> (an absolute path: this runs in Stryker's sandbox) records, per mutant,
// which test file killed it or that none did, so a list can be reordered from what it catches.
const log = (line) => {
  if (mutant !== undefined && process.env.CACHET_MUTATION_LOG) appendFileSync(process.env.CACHET_MUTATION_LOG, `${mutant}\t${file ?? '?'}\t${line}\n`);
};
for (const testFile of files) {
  const status = spawnSync(process.execPath, ['scripts/run-tests.js', testFile], { stdio: 'inherit', env }).status ?? 1;
  if (status !== 0) {
    log(`killed by ${testFile}`);
    process.exit(status);
  }
}
log('survived');
process.exit(0);

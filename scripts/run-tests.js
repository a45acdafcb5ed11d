// Runs every test file under test/ with node's test runner through tsx (Node 20's --test takes no globs).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'helpers' ? [] : find(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : find('test').sort();
// A test that hangs fails after this long instead of holding the whole run (and CI) hostage.
const timeout = Number(process.env.CACHET_TEST_TIMEOUT_MS ?? 120_000);
const run = (list) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-timeout=${timeout}`, ...list], { stdio: 'inherit' }).status ?? 1;

process.exit(run(files));

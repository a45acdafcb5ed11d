// What `npm run build` compiled from, and whether dist/ still matches it: the build records every
// file under src/ (size, mtime, SHA-256) in dist/build-stamp.json; bin/cachet.js runs dist/ only
// while src/ holds exactly those files with that content. Only a file whose size or mtime changed
// is hashed, so the check costs a directory walk and a stat per file (about a millisecond).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const SRC = path.join(ROOT, 'src');
export const DIST = path.join(ROOT, 'dist');
export const STAMP = path.join(DIST, 'build-stamp.json');

/** The build's inputs, as paths relative to the package root with `/` separators, sorted. */
export function inputFiles() {
  const files = readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath ?? entry.path, entry.name)).split(path.sep).join('/'));
  // A change to how the build compiles, or to the Kysely it bundles, also makes dist/ stale.
  return [...files, 'scripts/build.js', 'node_modules/kysely/package.json'].sort();
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The stamp of the inputs as they are now (written by the build). */
export function currentStamp() {
  const files = {};
  for (const name of inputFiles()) {
    const stat = statSync(path.join(ROOT, name));
    files[name] = { size: stat.size, mtimeMs: stat.mtimeMs, sha256: sha256(path.join(ROOT, name)) };
  }
  return { files };
}

/** Null when dist/ was built from the sources as they are now; otherwise why not, for a warning. */
export function staleness() {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return 'dist/ is missing (no build yet)';
  }
  // A deployment that ships dist/ without src/ has nothing to be stale against.
  if (!existsSync(SRC)) return null;
  const recorded = stamp.files ?? {};
  const names = inputFiles();
  if (names.length !== Object.keys(recorded).length || names.some((name) => !(name in recorded))) return 'dist/ is older than src/ (files were added or removed)';
  for (const name of names) {
    const file = path.join(ROOT, name);
    const was = recorded[name];
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return `dist/ was built with ${name}, which is gone`;
    }
    if (stat.size === was.size && stat.mtimeMs === was.mtimeMs) continue;
    if (stat.size !== was.size || sha256(file) !== was.sha256) return `dist/ is older than ${name}`;
  }
  return null;
}

/** Secret files: atomic, owner-only, never through a planted file or symlink; exposed ones are found. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exposedFiles, writeSecretFile } from '../../src/infra/secret-file.js';

describe('secret files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cachet-secret-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes mode 0600 into a 0700 folder it creates, and leaves no temporary file', () => {
    const file = path.join(dir, 'new', 'bootstrap-key');
    assert.equal(writeSecretFile(file, 'secret-one\n'), true);
    assert.equal(readFileSync(file, 'utf8'), 'secret-one\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(path.dirname(file)), ['bootstrap-key']);
  });

  it('never writes through a file or symlink planted at a predictable temporary name', () => {
    const file = path.join(dir, 'planted-key');
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    // The names an attacker could have guessed: the old `<file>.<pid>.tmp` and plain variants.
    for (const guess of [`${file}.${process.pid}.tmp`, `${file}.tmp`, `${file}~`]) symlinkSync(victim, guess);
    writeSecretFile(file, 'secret-two\n');
    assert.equal(readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(readFileSync(file, 'utf8'), 'secret-two\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('replaces an existing file whole, with the new mode', () => {
    const file = path.join(dir, 'replaced');
    writeFileSync(file, 'old', { mode: 0o644 });
    writeSecretFile(file, 'new');
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('keeps an existing file in exclusive mode (the first of several starting instances wins)', () => {
    const file = path.join(dir, 'pepper');
    assert.equal(writeSecretFile(file, 'first', { exclusive: true }), true);
    assert.equal(writeSecretFile(file, 'second', { exclusive: true }), false);
    assert.equal(readFileSync(file, 'utf8'), 'first');
    assert.deepEqual(readdirSync(dir).filter((name) => name.includes('pepper')), ['pepper']);
  });

  it('finds the files that group or others may read, and skips missing ones', () => {
    const open = path.join(dir, 'open');
    const closed = path.join(dir, 'closed');
    const group = path.join(dir, 'group');
    writeFileSync(open, 'x');
    chmodSync(open, 0o644);
    writeFileSync(closed, 'x');
    chmodSync(closed, 0o600);
    writeFileSync(group, 'x');
    chmodSync(group, 0o640);
    const missing = path.join(dir, 'missing');
    assert.equal(existsSync(missing), false);
    assert.deepEqual(exposedFiles([open, closed, group, missing]), [
      { file: open, mode: '0644' },
      { file: group, mode: '0640' },
    ]);
  });
});

/** Files that hold secrets (the pepper, the bootstrap key, delivered keys, signing keys): written atomically, readable by their owner only. */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Writes `content` to `file` with mode 0600, atomically: a temporary file with an unpredictable name
 * beside it is created exclusively (`O_CREAT|O_EXCL`, so never an existing file or a planted
 * symlink), written and synced, then moved into place. With `exclusive`, an existing `file` is
 * kept as it is and false is returned: for a secret generated once (the pepper) by whichever of
 * several starting instances comes first, which the others then read.
 *
 * @example writeSecretFile('./data/bootstrap-key', token + '\n')
 */
export function writeSecretFile(file: string, content: string, options: { exclusive?: boolean } = {}): boolean {
  const folder = path.dirname(file);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const temporary = path.join(folder, `.${path.basename(file)}.${randomBytes(12).toString('hex')}.tmp`);
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    removeQuietly(temporary);
    throw err;
  }
  closeSync(fd);
  try {
    if (!options.exclusive) {
      renameSync(temporary, file);
      return true;
    }
    // link() fails with EEXIST instead of replacing: the first writer wins, whole.
    try {
      linkSync(temporary, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } finally {
    removeQuietly(temporary);
  }
}

/** A secret file that others may read: its path and its permission bits, as `0644`. */
export interface ExposedFile {
  file: string;
  mode: string;
}

/** The files of `files` that exist and grant any permission to group or others (`mode & 0o077`). */
export function exposedFiles(files: readonly string[]): ExposedFile[] {
  const exposed: ExposedFile[] = [];
  for (const file of files) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) exposed.push({ file, mode: mode.toString(8).padStart(4, '0') });
  }
  return exposed;
}

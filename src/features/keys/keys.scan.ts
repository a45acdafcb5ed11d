/**
 * Finds API tokens in files (`cachet keys scan`): every string of the token's shape whose checksum
 * matches, with the file and line it was found on. Look-alikes with a bad checksum are dropped, so
 * there are no false positives. Files are read whole (up to a size bound), symlinks are not followed.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isWellFormedToken } from '../../infra/token.js';

/** The token shape secret scanners can use (the checksum rule is in the README). */
export const TOKEN_SEARCH_PATTERN = /(?<![0-9A-Za-z_])cachet_[0-9A-Za-z]{49}(?![0-9A-Za-z])/g;

/** Files larger than this are skipped (and reported). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export interface Finding {
  token: string;
  file: string;
  line: number;
}

export interface ScanResult {
  findings: Finding[];
  skipped: Array<{ file: string; reason: string }>;
  files: number;
}

/** Walks `paths` (files or folders) and returns every well-formed token found. */
export function scanForTokens(paths: readonly string[]): ScanResult {
  const result: ScanResult = { findings: [], skipped: [], files: 0 };
  const visit = (target: string): void => {
    let stat;
    try {
      stat = lstatSync(target);
    } catch (err) {
      result.skipped.push({ file: target, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' });
      return;
    }
    if (stat.isSymbolicLink()) return;
    if (stat.isDirectory()) {
      for (const name of readdirSync(target).sort()) visit(path.join(target, name));
      return;
    }
    if (!stat.isFile()) return;
    if (stat.size > MAX_FILE_BYTES) {
      result.skipped.push({ file: target, reason: `larger than ${MAX_FILE_BYTES} bytes` });
      return;
    }
    result.files += 1;
    // latin1 maps every byte to one character: binary files are searched too, offsets stay byte offsets.
    const text = readFileSync(target).toString('latin1');
    for (const match of text.matchAll(TOKEN_SEARCH_PATTERN)) {
      if (!isWellFormedToken(match[0])) continue;
      const line = text.slice(0, match.index).split('\n').length;
      result.findings.push({ token: match[0], file: target, line });
    }
  };
  for (const p of paths) visit(path.resolve(p));
  return result;
}

#!/usr/bin/env node
// Entry point of the `cachet` command: runs the JavaScript that `npm run build` compiled into dist/
// (`npm install` builds it). When dist/ is missing or was built from other sources than src/ holds
// now, it runs the TypeScript sources through tsx instead (slower to start) and says so on stderr,
// so an edit is never silently ignored; CACHET_FROM_SOURCE=1 chooses the sources without the warning.
//
// The shebang caps V8's young generation at 4 MB per semi-space (V8's default grows to 16 MB): a
// running server then sits some 20 to 30 MB lower, idle and under load, with no throughput loss beyond the noise
// (README, "Memory"). It goes first in NODE_OPTIONS, so a size in the user's NODE_OPTIONS wins;
// `node bin/cachet.js` (no shebang) runs with V8's default unless given the flag.
import { staleness } from '../scripts/build-stamp.js';

const fromSource = process.env.CACHET_FROM_SOURCE === '1';
const stale = fromSource ? null : staleness();
if (!fromSource && stale === null) {
  await import('../dist/cli/index.js');
} else {
  if (stale !== null) process.stderr.write(`cachet: ${stale}: running the TypeScript sources through tsx; run \`npm run build\`\n`);
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/index.ts');
}

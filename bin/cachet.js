#!/usr/bin/env node
// Entry point of the `cachet` command: runs the JavaScript that `npm run build` compiled into dist/
// (`npm install` builds it). When dist/ is missing or was built from other sources than src/ holds
// now, it runs the TypeScript sources through tsx instead (slower to start) and says so on stderr,
// so an edit is never silently ignored; CACHET_FROM_SOURCE=1 chooses the sources without the warning.
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

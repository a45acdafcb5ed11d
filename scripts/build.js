#!/usr/bin/env node
// `npm run build` (also run by `npm install` / `npm ci` through `prepare`, and by `npm test`):
// compiles src/**/*.ts to dist/ with esbuild, one output module per source file, so dist/ has the
// layout of src/ and `new URL('./views', import.meta.url)` and `../package.json` resolve the same
// from both. Type-checking is `npm run typecheck`'s job (esbuild only strips the types), and
// esbuild is a runtime dependency, so `npm install --omit=dev` builds too.
//
// One exception to "packages stay in node_modules": Kysely's ESM build is some 260 small modules,
// which cost a short command more time than all of its own work; it is bundled once into
// dist/vendor/kysely.js, which every compiled module imports instead of 'kysely'.
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { currentStamp, DIST, ROOT, SRC, STAMP } from './build-stamp.js';

const started = Date.now();
// The stamp first: an edit made while the build runs makes dist/ stale rather than silently current.
const stamp = currentStamp();
const sources = Object.keys(stamp.files).filter((name) => name.startsWith('src/'));
rmSync(DIST, { recursive: true, force: true });
mkdirSync(DIST, { recursive: true });

const common = { format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' };
const KYSELY = path.join(DIST, 'vendor', 'kysely.js');

await build({
  ...common,
  stdin: { contents: "export * from 'kysely';", resolveDir: ROOT, sourcefile: 'kysely.js' },
  bundle: true,
  outfile: KYSELY,
});

// Bundling mode only so that the plugin sees every import: each one stays an import (none is
// inlined), 'kysely' pointing to the vendored copy.
const perFile = {
  name: 'per-file',
  setup(builder) {
    builder.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (args.path !== 'kysely') return { path: args.path, external: true };
      const from = path.dirname(path.join(DIST, path.relative(SRC, args.importer)));
      const relative = path.relative(from, KYSELY).split(path.sep).join('/');
      return { path: relative.startsWith('.') ? relative : `./${relative}`, external: true };
    });
  },
};
await build({
  ...common,
  entryPoints: sources.filter((name) => name.endsWith('.ts')).map((name) => path.join(ROOT, name)),
  outdir: DIST,
  outbase: SRC,
  bundle: true,
  plugins: [perFile],
  sourcemap: 'linked',
});

// Everything else under src/ (the status page's templates and stylesheet) is read at run time
// relative to its module: copied alongside.
let assets = 0;
for (const name of sources.filter((name) => !name.endsWith('.ts'))) {
  cpSync(path.join(ROOT, name), path.join(DIST, path.relative('src', name)));
  assets += 1;
}
writeFileSync(STAMP, JSON.stringify(stamp, null, 1) + '\n');
const outputs = readdirSync(DIST, { recursive: true }).filter((name) => String(name).endsWith('.js')).length;
process.stdout.write(`build: ${outputs} modules and ${assets} assets in dist/ (${Date.now() - started} ms)\n`);

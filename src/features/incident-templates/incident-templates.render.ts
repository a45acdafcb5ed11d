/**
 * The incident-template language: Liquid, locked down. Cachet 2.4 used a Twig sandbox; here a
 * template can read its variables and use Liquid's pure filters, and nothing else: no file reads
 * (`include`, `render`, `layout` are removed and the file system refuses every read), no unknown
 * filters, no prototype walking, and bounded parse size, render time and allocations.
 */
import { createRequire } from 'node:module';
import type { FS, Liquid } from 'liquidjs';

// liquidjs (CommonJS, one large module, ~15 MB resident) is loaded by the first template checked or
// rendered, not at start: most servers never use a template.
const requireCjs = createRequire(import.meta.url);
const loadLiquid = () => (requireCjs('liquidjs') as typeof import('liquidjs')).Liquid;

/** Longest template source and longest rendered message, in characters. */
export const TEMPLATE_MAX_LENGTH = 65_535;

/** A template that cannot be parsed or rendered; the message says why. */
export class TemplateError extends Error {}

/** Bounds on one render; the defaults suit a status message, not a document. */
export interface TemplateLimits {
  /** Wall-clock budget for one render in ms (rendering is synchronous work, so this also caps event-loop blocking). */
  renderMs: number;
  /** Liquid's allocation budget (range sizes, string and array building). */
  memory: number;
}

const DEFAULT_LIMITS: TemplateLimits = { renderMs: 250, memory: 1_000_000 };

const FORBIDDEN_TAGS = ['include', 'render', 'layout', 'block'];

function refuse(): never {
  throw new TemplateError('templates cannot read files');
}

// Belt and braces: even if a file-reading tag came back (a liquidjs upgrade), lookups find nothing.
const noFiles: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => refuse(),
  readFileSync: () => refuse(),
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
};

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // V8's message for a string past its maximum length says nothing useful to a template author.
  const message = error instanceof RangeError ? 'the output is too large' : text;
  return message.split('\n')[0]!.slice(0, 300);
}

function lockedDown(limits: TemplateLimits): Liquid {
  const Liquid = loadLiquid();
  const liquid = new Liquid({
    fs: noFiles,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    dynamicPartials: false,
    strictFilters: true,
    ownPropertyOnly: true,
    cache: false,
    timezoneOffset: 0,
    parseLimit: TEMPLATE_MAX_LENGTH + 1,
    renderLimit: limits.renderMs,
    memoryLimit: limits.memory,
  });
  for (const tag of FORBIDDEN_TAGS) delete liquid.tags[tag];
  return liquid;
}

/** A locked-down Liquid engine: `check` a template when it is saved, `render` it for an incident. */
export function createTemplateEngine(limits: TemplateLimits = DEFAULT_LIMITS) {
  let engine: Liquid | undefined;
  const liquid = (): Liquid => (engine ??= lockedDown(limits));
  return {
    /** Throws a TemplateError when `source` is not a template this engine accepts. */
    check(source: string): void {
      try {
        liquid().parse(source);
      } catch (error) {
        throw new TemplateError(describe(error));
      }
    },

    /** Renders `source` with `variables`; a parse or render failure, or an oversized result, is a TemplateError. */
    async render(source: string, variables: Record<string, unknown>): Promise<string> {
      let output: string;
      try {
        output = (await liquid().parseAndRender(source, variables)) as string;
      } catch (error) {
        throw new TemplateError(describe(error));
      }
      if (output.length > TEMPLATE_MAX_LENGTH) throw new TemplateError(`the rendered message is longer than ${TEMPLATE_MAX_LENGTH} characters`);
      // Filters such as url_decode can produce a NUL, which PostgreSQL text cannot store.
      if (output.includes('\u0000')) throw new TemplateError('the rendered message contains a NUL character');
      return output;
    },
  };
}

export type TemplateEngine = ReturnType<typeof createTemplateEngine>;

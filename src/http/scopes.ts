/** The scope model (DESIGN.md §2): `R.read`, `R.manage` (implies `R.read`), `R.delete` per resource, and `*`. */

/** Every resource a scope can name. */
export const RESOURCES = [
  'components',
  'component-groups',
  'incidents',
  'incident-updates',
  'incident-templates',
  'metrics',
  'metric-points',
  'schedules',
  'subscribers',
  'keys',
  'webhooks',
  'audit',
] as const;

export type Resource = (typeof RESOURCES)[number];
export type Verb = 'read' | 'manage' | 'delete';
/** A scope string such as `components.manage`, or `*` for everything. */
export type Scope = `${Resource}.${Verb}` | '*';

/** Resources whose data can only be read through the API. */
const READ_ONLY: ReadonlySet<Resource> = new Set(['audit']);

/** Every scope a key may hold, in a stable order. */
export const ALL_SCOPES: readonly Scope[] = [
  '*',
  ...RESOURCES.flatMap((r): Scope[] => (READ_ONLY.has(r) ? [`${r}.read`] : [`${r}.read`, `${r}.manage`, `${r}.delete`])),
];

const KNOWN = new Set<string>(ALL_SCOPES);

/** True when `text` names a scope that exists. */
export function isScope(text: string): text is Scope {
  return KNOWN.has(text);
}

/**
 * Checks a requested scope list: known names only, at least one. Returns the deduplicated list
 * or the reason it is refused (an empty list is refused: Cachet 3 reads it as full access).
 */
export function parseScopes(list: readonly string[]): { ok: true; scopes: Scope[] } | { ok: false; error: string } {
  const cleaned = [...new Set(list.map((s) => s.trim()).filter(Boolean))];
  if (cleaned.length === 0) return { ok: false, error: 'at least one scope is required' };
  const unknown = cleaned.filter((s) => !isScope(s));
  if (unknown.length > 0) return { ok: false, error: `unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}` };
  return { ok: true, scopes: cleaned as Scope[] };
}

/** True when a key holding `granted` may do what `required` guards. */
export function scopeGrants(granted: readonly string[], required: Scope): boolean {
  if (granted.includes('*') || granted.includes(required)) return true;
  if (required === '*') return false;
  const [resource, verb] = required.split('.') as [Resource, Verb];
  return verb === 'read' && granted.includes(`${resource}.manage`);
}

/** The requested scopes that `granted` does not cover: a key can only mint keys within its own scopes. */
export function scopesBeyond(granted: readonly string[], requested: readonly Scope[]): Scope[] {
  return requested.filter((s) => !scopeGrants(granted, s));
}

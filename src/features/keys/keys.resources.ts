/** Resource limits as people write them (`components:7,9;incidents:3`): the CLI's `--resources` and the dashboard's form field. */

/**
 * `components:7,9;incidents:3` → `{components: [7, 9], incidents: [3]}`. Ids that are not whole
 * numbers are passed on as text so the keys service names them in its refusal; a part without
 * `RESOURCE:` or text with no part at all is refused here.
 *
 * @example
 * parseResourceList('components:7,9;incidents:3'); // { ok: true, limits: { components: [7, 9], incidents: [3] } }
 */
export function parseResourceList(text: string): { ok: true; limits: Record<string, Array<number | string>> } | { ok: false; error: string } {
  const limits: Record<string, Array<number | string>> = {};
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    if (colon <= 0) return { ok: false, error: `"${part.slice(0, 60)}" must be RESOURCE:ID[,ID…], e.g. components:7,9;incidents:3` };
    const resource = part.slice(0, colon).trim();
    const ids = part.slice(colon + 1).split(',').map((id) => id.trim()).filter(Boolean);
    limits[resource] = [...(limits[resource] ?? []), ...ids.map((id) => (/^\d{1,15}$/.test(id) ? Number(id) : id))];
  }
  if (Object.keys(limits).length === 0) return { ok: false, error: 'give RESOURCE:ID[,ID…], e.g. components:7,9;incidents:3' };
  return { ok: true, limits };
}

/** The text form of a key's resource limits (`components:7,9;incidents:3`), as `parseResourceList` reads it. */
export function formatResourceList(resources: Readonly<Record<string, readonly number[]>>): string {
  return Object.entries(resources)
    .map(([resource, ids]) => `${resource}:${ids.join(',')}`)
    .join(';');
}

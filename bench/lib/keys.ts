/**
 * Keys for the bench, created in bulk through the keys service (as `cachet keys create` does, each
 * audited) but many per transaction: 10,000 CLI spawns would take longer than the bench itself.
 * Also migrates the database, so several instances do not race to.
 */
import { loadConfig } from '../../src/config.js';
import { systemContext } from '../../src/features/audit/audit.types.js';
import { createAudited } from '../../src/features/audit/audited.js';
import { auditWriterFor, keysServiceFor, openMigratedDatabase } from '../../src/main.js';

export interface KeySpec {
  name: string;
  scopes: string[];
}

/** Creates the keys, `batch` per transaction, and returns their tokens in order. */
export async function createKeys(env: NodeJS.ProcessEnv, specs: readonly KeySpec[], batch = 500): Promise<string[]> {
  const config = loadConfig(env);
  const database = await openMigratedDatabase(config);
  try {
    const service = keysServiceFor(database, config);
    const audited = createAudited(database.db, auditWriterFor(config));
    const context = systemContext('bench keys');
    const tokens: string[] = [];
    for (let start = 0; start < specs.length; start += batch) {
      const created = await audited(context, async (trx) => {
        const out: string[] = [];
        for (const spec of specs.slice(start, start + batch)) {
          const result = await service.create(trx, { name: spec.name, scopes: spec.scopes, createdBy: 'cli' });
          if (!result.ok) throw new Error(`bench key ${spec.name}: ${result.error}`);
          out.push(result.token);
        }
        return out;
      });
      tokens.push(...created);
    }
    return tokens;
  } finally {
    await database.close();
  }
}

/** Runs the schema migrations; safe when several instances start at once (Kysely takes a lock per dialect). */
import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './database.js';
import { foundation } from './migrations/0001_foundation.js';
import { statusContent } from './migrations/0002_status_content.js';
import { audit } from './migrations/0003_audit.js';
import { keyLifecycle } from './migrations/0004_key_lifecycle.js';
import { rotationPolicies } from './migrations/0005_rotation_policies.js';
import { keyLimits } from './migrations/0006_key_limits.js';
import { componentStatusHistory } from './migrations/0007_component_status_history.js';
import { dashboardUsers } from './migrations/0008_dashboard_users.js';
import { notifications } from './migrations/0009_notifications.js';
import { keyReview } from './migrations/0010_key_review.js';

function provider(database: Database): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '0001_foundation': foundation(database.dialect),
        '0002_status_content': statusContent(database.dialect),
        '0003_audit': audit(database.dialect),
        '0004_key_lifecycle': keyLifecycle(),
        '0005_rotation_policies': rotationPolicies(),
        '0006_key_limits': keyLimits(),
        '0007_component_status_history': componentStatusHistory(database.dialect),
        '0008_dashboard_users': dashboardUsers(database.dialect),
        '0009_notifications': notifications(database.dialect),
        '0010_key_review': keyReview(),
      };
    },
  };
}

/** Brings the schema up to date; returns the names of the migrations it applied. */
export async function migrateToLatest(database: Database): Promise<string[]> {
  // Kysely's introspection sees every schema; name ours so a lock table elsewhere is not mistaken for it.
  const migrator = new Migrator({ db: database.db, provider: provider(database), ...(database.schema ? { migrationTableSchema: database.schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a migration may throw a non-Error; String() is the best description of it
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${message}`.replace('  ', ' '));
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

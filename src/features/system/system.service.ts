/** The overall system status of `GET /api/v1/status`, computed as Cachet 2.4 does. */
import type { Executor } from '../../db/database.js';
import type { ComponentsRepo } from '../components/components.repo.js';

/** Share of components in major outage (percent) at which the system is `danger` (Cachet's default). */
const MAJOR_OUTAGE_RATE = 50;

export interface SystemStatus {
  status: 'success' | 'info' | 'danger';
  message: string;
}

export interface SystemServiceDeps {
  componentsRepo: ComponentsRepo;
  /** Counts incidents that are not fixed; the system is not `success` while any exist. */
  unresolvedIncidents?: (db: Executor, includeHidden: boolean) => Promise<number>;
}

export function createSystemService({ componentsRepo, unresolvedIncidents }: SystemServiceDeps) {
  return {
    /**
     * Status over enabled components and open incidents. Components in hidden groups count only for
     * a caller who may see hidden groups; hidden incidents only for one who may see hidden incidents.
     */
    async status(db: Executor, sees: { hiddenGroups: boolean; hiddenIncidents: boolean }): Promise<SystemStatus> {
      const rows = await componentsRepo.enabledWithGroupVisibility(db);
      const counted = sees.hiddenGroups ? rows : rows.filter((r) => r.group_visible === null || r.group_visible === 1);
      const total = counted.length;
      const several = total > 1;
      const major = counted.filter((r) => r.status === 4).length;
      if (total > 0 && (major / total) * 100 >= MAJOR_OUTAGE_RATE) {
        return { status: 'danger', message: several ? 'Some systems are experiencing major issues' : 'The system is experiencing major issues' };
      }
      const allOperational = counted.every((r) => r.status === 1);
      const openIncidents = unresolvedIncidents ? await unresolvedIncidents(db, sees.hiddenIncidents) : 0;
      if (allOperational && openIncidents === 0) {
        return { status: 'success', message: several ? 'All systems are operational' : 'System operational' };
      }
      return { status: 'info', message: several ? 'Some systems are experiencing issues' : 'The system is experiencing issues' };
    },
  };
}

export type SystemService = ReturnType<typeof createSystemService>;

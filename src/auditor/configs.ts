import type { TrackingConfig } from "../core/index.ts";

/** How many config versions the auditor keeps at hand (a version never changes once written). */
const VERSIONS_KEPT = 1000;

/** The tracking configs an audit looks up: a scenario's current one, and the version an event names. */
export interface AuditedConfigs {
  current(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined>;
  version(tenantId: string, scenarioId: string, version: number): Promise<TrackingConfig | undefined>;
}

/** The auditor's config lookups: current ones through the relay's cache, versions from the store. */
export const auditedConfigs = (
  current: { get(tenantId: string, scenarioId: string): Promise<TrackingConfig | undefined> },
  store: {
    getVersion(tenantId: string, scenarioId: string, version: number): Promise<TrackingConfig | undefined>;
  },
): AuditedConfigs => {
  const versions = new Map<string, TrackingConfig | undefined>();
  return {
    current: (tenantId, scenarioId) => current.get(tenantId, scenarioId),
    version: async (tenantId, scenarioId, version) => {
      const key = `${tenantId}/${scenarioId}/${version}`;
      if (versions.has(key)) return versions.get(key);
      const config = await store.getVersion(tenantId, scenarioId, version);
      if (versions.size >= VERSIONS_KEPT) versions.clear();
      versions.set(key, config);
      return config;
    },
  };
};

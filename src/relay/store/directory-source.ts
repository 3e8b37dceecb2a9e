import type { TenantDocument, TenantKey, TrackingConfig } from "../../core/index.ts";
import type { DirectorySource } from "../directory-source.ts";
import type { ChangeLog } from "./changes.ts";
import type { ConfigRepository } from "./configs.ts";
import type { KeyRepository } from "./keys.ts";

/** The tenant directory's reads, from the config and key repositories and the change log. */
export const storeDirectorySource = (
  configs: ConfigRepository,
  keys: KeyRepository,
  changes: ChangeLog,
): DirectorySource => ({
  latestChange: () => changes.latest(),
  changesSince: (seq) => changes.since(seq),
  all: async () => {
    const [active, tenantKeys] = await Promise.all([configs.allActive(), keys.allOfTenants()]);
    const documents = new Map<string, TenantDocument>();
    const documentOf = (tenantId: string) => {
      let document = documents.get(tenantId);
      if (document === undefined) {
        document = { tenant_id: tenantId, configs: [], keys: [] };
        documents.set(tenantId, document);
      }
      return document;
    };
    for (const config of active) documentOf(config.tenant_id).configs.push(config);
    for (const key of tenantKeys) documentOf(key.tenant_id as string).keys.push(key);
    return [...documents.values()];
  },
  tenant: async (tenantId) => {
    const [tenantConfigs, tenantKeys]: [TrackingConfig[], TenantKey[]] = await Promise.all([
      configs.list({ tenant_id: tenantId }),
      keys.recordsForEdge(tenantId),
    ]);
    return { tenant_id: tenantId, configs: tenantConfigs, keys: tenantKeys };
  },
  serviceKeys: () => keys.serviceKeys(),
  key: (hash) => keys.recordForEdge(hash),
});

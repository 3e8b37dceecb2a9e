import type { KeyStore } from "../auth.ts";
import type { ConfigSource } from "../config-source.ts";
import type { EdgeCallVerifier } from "../edge-calls.ts";
import type { LiveStreams } from "../live.ts";
import type { ChangeLog } from "../store/changes.ts";
import type { ConfigRepository } from "../store/configs.ts";
import type { KeyRepository } from "../store/keys.ts";
import type { QualityRepository } from "../store/quality.ts";
import { adminAccess } from "./access.ts";
import type { RelayApi } from "./openapi.ts";
import { registerConfigRoutes } from "./routes/configs.ts";
import { registerEdgeFeedRoutes } from "./routes/edge-feed.ts";
import { registerKeyRoutes } from "./routes/keys.ts";
import { registerLiveRoutes } from "./routes/live.ts";
import { registerQualityRoutes } from "./routes/quality.ts";
import { registerTemplateRoutes } from "./routes/templates.ts";

export interface AdminDeps {
  configs: ConfigRepository;
  keys: KeyRepository;
  changes: ChangeLog;
  keyStore: KeyStore;
  /** Every tenant's configs and keys, as the ingest path sees them. */
  directory: ConfigSource;
  /** The hourly quality aggregates (`…/quality`). */
  quality: QualityRepository;
  adminToken: string | undefined;
  /** Live views of tenants' topics (`…/events/live`). */
  live: LiveStreams;
  /** Checks the edge's signed feed reads. */
  edgeCalls: EdgeCallVerifier;
  now: () => number;
  /**
   * Called after a tenant's configs or keys changed (null: a service key): this relay's directory reads
   * the tenant again before the answer, and the edge is pushed the change.
   */
  changedTenant: (tenantId: string | null) => Promise<void>;
  /**
   * Creates a tenant's topics when the admin creates one of its configs, where the relay does not create
   * topics on first write (TOPIC_AUTO_CREATE=false); absent otherwise.
   */
  provisionTopics?: (tenantId: string) => Promise<void>;
}

/** The tracking-config admin API, API keys, live views, and the feed the edge reads configs and keys from. */
export const registerAdminRoutes = (api: RelayApi, deps: AdminDeps) => {
  const access = adminAccess(deps);
  registerTemplateRoutes(api);
  registerConfigRoutes(api, deps, access);
  registerKeyRoutes(api, deps, access);
  registerLiveRoutes(api, deps, access);
  registerQualityRoutes(api, deps, access);
  registerEdgeFeedRoutes(api, deps, access);
};

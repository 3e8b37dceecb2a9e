import type { KeyStore } from "../auth.ts";
import type { ConfigSource } from "../config-source.ts";
import type { EdgeCallVerifier } from "../edge-calls.ts";
import type { LiveStreams } from "../live.ts";
import type { ChangeLog } from "../store/changes.ts";
import type { ConfigRepository } from "../store/configs.ts";
import type { KeyRepository } from "../store/keys.ts";
import type { QualityRepository } from "../store/quality.ts";

/** What the admin API needs of the relay: its stores, directory, live views and hooks. */
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

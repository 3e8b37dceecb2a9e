import * as z from "zod";
import { intSetting as int } from "../../core/index.ts";
import type { DirectorySettings } from "../directory.ts";
import type { StoreSettings } from "../store/mongo.ts";

/** MongoDB, which holds tenants' configs, keys and quality aggregates, and the tenant directory read from it. */
export const TenantStoreSettings = z.object({
  MONGODB_URI: z.string().default("mongodb://127.0.0.1:27017"),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,60}$/)
    .default("behavior_ingest"),
  /**
   * Connections to MongoDB per relay process. Ingestion never waits on the store (every tenant's
   * document is in memory), so the pool serves the admin API, the change feed and quality flushes.
   */
  MONGODB_POOL_SIZE: int(10, 1),
  /**
   * The longest a store call may take before the admin API answers 503 `store_unavailable` (and server
   * selection, connecting and the wait for a pooled connection are bounded by it): a slow, locked or
   * absent store costs a caller this much, never a hang.
   */
  MONGODB_DEADLINE_MS: int(800, 50),
  /** A MongoDB socket silent this long is closed, which ends an operation that outlived its deadline. */
  MONGODB_SOCKET_TIMEOUT_MS: int(10_000, 1000),
  /**
   * How often the tenant directory reads the store's change feed: a config or key changed through
   * another relay (a revocation too) takes effect here within about this plus one read of the tenant.
   */
  DIRECTORY_POLL_MS: int(1000, 50),
  /**
   * Until the directory's first load (the store was down when the relay started), how long an ingest
   * call may wait for one lookup of a key or tenant not yet in memory.
   */
  DIRECTORY_LOOKUP_DEADLINE_MS: int(300, 10),
});
type TenantStoreSettings = z.infer<typeof TenantStoreSettings>;

/** How the relay and the auditor reach MongoDB. */
export const storeSettingsOf = (settings: TenantStoreSettings): StoreSettings => ({
  uri: settings.MONGODB_URI,
  database: settings.MONGODB_DB,
  poolSize: settings.MONGODB_POOL_SIZE,
  deadlineMs: settings.MONGODB_DEADLINE_MS,
  socketTimeoutMs: settings.MONGODB_SOCKET_TIMEOUT_MS,
});

/** How the tenant directory follows the store, in the relay and the auditor. */
export const directorySettingsOf = (settings: TenantStoreSettings): DirectorySettings => ({
  pollMs: settings.DIRECTORY_POLL_MS,
  lookupDeadlineMs: settings.DIRECTORY_LOOKUP_DEADLINE_MS,
});

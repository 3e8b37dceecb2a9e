import type { Logger } from "pino";
import { ChangeLog } from "./changes.ts";
import { ConfigRepository } from "./configs.ts";
import { KeyRepository } from "./keys.ts";
import { MongoConnection, type StoreSettings } from "./mongo.ts";
import { QualityRepository } from "./quality.ts";

/** The relay's repositories over one MongoDB connection (none of them connects until used). */
export const openRelayStore = (settings: StoreSettings) => {
  const mongo = new MongoConnection(settings);
  const changes = new ChangeLog(mongo);
  const configs = new ConfigRepository(mongo, changes);
  const keys = new KeyRepository(mongo, changes);
  const quality = new QualityRepository(mongo);
  return {
    changes,
    configs,
    keys,
    quality,
    /** Makes the indexes; a store that does not answer yet is logged, not fatal: the directory loads once it does. */
    ensureIndexes: (log: Logger): Promise<void> =>
      Promise.all([configs.ensureIndexes(), keys.ensureIndexes(), quality.ensureIndexes()]).then(
        () => undefined,
        (error: unknown) =>
          log.warn({ err: error }, "MongoDB is not reachable; the tenant directory loads once it is"),
      ),
    close: () => mongo.close(),
  };
};

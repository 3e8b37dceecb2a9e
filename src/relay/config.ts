import * as z from "zod";
import { parseSettings } from "../core/index.ts";
import { AccessSettings } from "./settings/access.ts";
import { checkKafkaSettings, KafkaSettings } from "./settings/kafka.ts";
import { LimitSettings } from "./settings/limits.ts";
import { LiveSettings } from "./settings/live.ts";
import { QualitySettings } from "./settings/quality.ts";
import { checkServerSettings, LogSettings, ServerSettings, withHeadersTimeout } from "./settings/server.ts";
import { TenantStoreSettings } from "./settings/store.ts";
import { WriteSettings } from "./settings/write-path.ts";

/**
 * Every setting of the relay, from the environment, parsed once at start-up (defaults suit a laptop).
 * Each concern's settings, their defaults and checks are in settings/.
 */
export const RelaySettings = z
  .object({
    ...ServerSettings.shape,
    ...LimitSettings.shape,
    ...KafkaSettings.shape,
    ...WriteSettings.shape,
    ...AccessSettings.shape,
    ...TenantStoreSettings.shape,
    ...LiveSettings.shape,
    ...QualitySettings.shape,
    ...LogSettings.shape,
  })
  .superRefine((s, ctx) => {
    checkKafkaSettings(s, ctx);
    checkServerSettings(s, ctx);
  })
  .transform(withHeadersTimeout);
export type RelaySettings = z.infer<typeof RelaySettings>;

/** Parses the environment; a bad value stops start-up with a message naming the variable. */
export const loadSettings = (env: Record<string, string | undefined>): RelaySettings =>
  parseSettings(RelaySettings, env, "relay");

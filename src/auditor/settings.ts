import * as z from "zod";
import { intSetting as int, parseSettings } from "../core/index.ts";
import { RelaySettings } from "../relay/config.ts";

/**
 * Every setting of the auditor on its own (`npm run auditor`), from the environment, parsed once at
 * start-up: the relay's, with their names and defaults (it reaches Kafka and MongoDB, reads the tenant
 * directory, flushes quality counts and audits as a relay's auditor does, and its metrics listen on
 * RELAY_HOST), and the port of its metrics, which a relay's auditor does not have.
 */
export const AuditorSettings = z.intersection(
  RelaySettings,
  z.object({
    /** The port of the auditor's metrics; a relay's auditor reports on the relay's. */
    AUDITOR_METRICS_PORT: int(8092),
  }),
);
export type AuditorSettings = z.infer<typeof AuditorSettings>;

/** Parses the environment; a bad value stops start-up with a message naming the variable. */
export const loadAuditorSettings = (env: Record<string, string | undefined>): AuditorSettings =>
  parseSettings(AuditorSettings, env, "auditor");

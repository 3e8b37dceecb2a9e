import * as z from "zod";
import { parseSettings, SettingsError } from "../core/index.ts";
import { KafkaBrokersSetting } from "../relay/settings/kafka.ts";
import { CliError, EXIT } from "./admin.ts";
import { usage } from "./common.ts";

/**
 * The CLI's settings, from the environment, parsed once at start (main.ts); each has a flag that
 * overrides it (docs/cli.md). `dead-letters redrive` reads the relay's own besides (src/relay/config.ts).
 */
export const CliSettings = z.object({
  /** The relay whose admin API the commands call (`tail` and `validate` too, for the tenant's configs). */
  BEHAVIOR_INGEST_RELAY: z.url().default("http://127.0.0.1:8080"),
  /**
   * The admin token or a tenant's secret key. Unset, a command that calls the relay says what to set;
   * an empty one is sent as it is, for the relay to refuse.
   */
  BEHAVIOR_INGEST_TOKEN: z.string().optional(),
  /** Kafka, for `tail` and `dead-letters redrive`: the relay's setting, read the same way. */
  KAFKA_BROKERS: KafkaBrokersSetting,
});
export type CliSettings = z.infer<typeof CliSettings>;

/** Settings read by `parse`; bad ones are wrong usage, said on one line naming each variable. */
export const settingsOrUsage = <T>(parse: () => T): T => {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    throw new CliError(error.oneLine, EXIT.usage);
  }
};

export const loadCliSettings = (env: Record<string, string | undefined>): CliSettings =>
  settingsOrUsage(() => parseSettings(CliSettings, env, "CLI"));

/** A flag's value read as the setting it overrides would be; a bad one is wrong usage naming the flag. */
export const settingFlag =
  <T>(flag: string, setting: z.ZodType<T>) =>
  (value: string): T => {
    const parsed = setting.safeParse(value);
    return parsed.success
      ? parsed.data
      : usage(`${flag}: ${parsed.error.issues.map((issue) => issue.message).join("; ")}`);
  };

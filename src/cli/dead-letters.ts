import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import type { Command } from "commander";
import { DEAD_LETTER_FILE, type RedriveResult, redriveDeadLetters } from "../kafka/dead-letters.ts";
import { platformaticProducer } from "../kafka/producer.ts";
import { TopicProvisioner } from "../kafka/topics.ts";
import { loadSettings, type RelaySettings } from "../relay/config.ts";
import { kafkaConnection } from "../relay/settings/kafka.ts";
import { producerSettingsOf, topicSettingsOf } from "../relay/settings/write-path.ts";
import { CliError, EXIT } from "./admin.ts";
import type { GlobalOptions } from "./common.ts";
import { settingsOrUsage } from "./settings.ts";

/** `dead-letters redrive`: a relay's dead letters sent where they belong, once the cause is fixed. */

/**
 * Re-drives the dead-letter files of a relay's spool directory: its own and its workers'
 * (`worker-N/`, with RELAY_WORKERS). One record at a time, each to its topic (created first when the
 * relay would create it); refused again, it stays in the file.
 */
const redrive = async (settings: RelaySettings) => {
  const root = settings.SPOOL_DIR;
  const workers = (await readdir(root).catch(() => [] as string[])).filter((name) =>
    /^worker-\d+$/.test(name),
  );
  const files = [root, ...workers.map((name) => join(root, name))].map((dir) => join(dir, DEAD_LETTER_FILE));
  const connection = kafkaConnection(settings);
  const admin = new Admin({
    clientId: settings.KAFKA_CLIENT_ID,
    bootstrapBrokers: settings.KAFKA_BROKERS,
    ...connection,
  });
  const topics = new TopicProvisioner(admin, topicSettingsOf(settings));
  const producer = platformaticProducer(producerSettingsOf(settings, settings.KAFKA_CLIENT_ID));
  const results: [string, RedriveResult][] = [];
  try {
    for (const file of files) {
      const result = await redriveDeadLetters(file, async (record) => {
        await topics.ensure(record.topic);
        await producer.send([record]);
      });
      if (result.read > 0) results.push([file, result]);
      if (result.failure !== undefined) break;
    }
  } finally {
    await producer.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
  if (results.length === 0) return console.log(`no dead letters under ${root}`);
  for (const [file, r] of results) {
    console.log(
      `${file}: sent ${r.sent} of ${r.read}${r.refused > 0 ? `, ${r.refused} refused again (kept in the file)` : ""}`,
    );
  }
  const failed = results.find(([, r]) => r.failure !== undefined);
  if (failed !== undefined) {
    throw new CliError(
      `stopped: ${(failed[1].failure as Error).message}; the rest stays in ${failed[0]} (is Kafka at ${settings.KAFKA_BROKERS.join(",")} up?)`,
      EXIT.unreachable,
    );
  }
  const refused = results.reduce((n, [, r]) => n + r.refused, 0);
  if (refused > 0) {
    throw new CliError(
      `${refused} dead letters were refused again: fix the cause (each line of the file names Kafka's error) and redrive again`,
      EXIT.refused,
    );
  }
};

/** `env`: where the relay's settings are read from (its KAFKA_*, TOPIC_* and SPOOL_DIR). */
export const addDeadLetters = (program: Command, env: Record<string, string | undefined>) =>
  program
    .command("dead-letters")
    .description("a relay's dead letters: what even a tenant's quarantine topic refused")
    .command("redrive")
    .description(
      "send the records of the relay's dead-letter files where they belong, once the cause is fixed; with the relay's KAFKA_* and TOPIC_* settings",
    )
    .option("--spool-dir <DIR>", "the relay's spool directory (SPOOL_DIR, default .dev/spool)")
    .action(async (options: { spoolDir?: string }, command: Command) => {
      const relay = settingsOrUsage(() =>
        loadSettings(options.spoolDir === undefined ? env : { ...env, SPOOL_DIR: options.spoolDir }),
      );
      // The brokers are the CLI's (--brokers or KAFKA_BROKERS), read by the relay's own rule.
      await redrive({ ...relay, KAFKA_BROKERS: command.optsWithGlobals<GlobalOptions>().brokers });
    });

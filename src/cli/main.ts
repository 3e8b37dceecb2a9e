#!/usr/bin/env node
// `behavior-ingest`: the tracking-config and key admin API, local validation, `tail`, a live view
// of a tenant's events as they land in Kafka, and `dead-letters redrive`. Reads BEHAVIOR_INGEST_RELAY,
// BEHAVIOR_INGEST_TOKEN and KAFKA_BROKERS (the redrive the relay's KAFKA_*, TOPIC_* and SPOOL_DIR too);
// most have a flag too.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Admin } from "@platformatic/kafka";
import {
  type Issue,
  isValidTenantId,
  QUALITY_WINDOWS,
  type QualityReport,
  quarantineTopicFor,
  type TrackingConfig,
  topicFor,
  validateEvent,
} from "../core/index.ts";
import { DEAD_LETTER_FILE, type RedriveResult, redriveDeadLetters } from "../kafka/dead-letters.ts";
import { platformaticProducer } from "../kafka/producer.ts";
import { tailTopics, toLiveEvent } from "../kafka/tail.ts";
import { TopicProvisioner } from "../kafka/topics.ts";
import { loadSettings, type RelaySettings } from "../relay/config.ts";
import { kafkaConnection } from "../relay/settings/kafka.ts";
import { topicSettingsOf } from "../relay/settings/write-path.ts";
import { CliError, callRelay, EXIT, type RelayAccess } from "./admin.ts";
import { formatLiveEvent, formatQuality } from "./format.ts";

const USAGE = `behavior-ingest — tracking configs, API keys, validation and a live view of events

Usage:
  behavior-ingest configs list <tenant>
  behavior-ingest configs get <tenant> <scenario> [--version N]
  behavior-ingest configs create <config.json> [--exists-ok]
  behavior-ingest configs from-template <tenant> <scenario> <template> [--name NAME] [--exists-ok]
  behavior-ingest configs update <tenant> <scenario> <changes.json>
  behavior-ingest configs delete <tenant> <scenario>
  behavior-ingest keys create <tenant> --kind secret|publishable [--origin URL]… [--name NAME]
  behavior-ingest keys list [<tenant>]
  behavior-ingest keys revoke <key_id>
  behavior-ingest validate <events.json>     one event, an array, or {"events": […]}
  behavior-ingest tail <tenant> [--rejected] [--scenario S] [--follow] [--last N] [--json]
                                             the last N events (20), then with --follow new ones as
                                             they land; --rejected adds the refused ones and why
  behavior-ingest quality <tenant> [--window 1h|24h|7d] [--json]
                                             pass, warning and refusal rates, the four targets, the
                                             fields that fail most and what direct writers wrote
  behavior-ingest dead-letters redrive [--spool-dir DIR]
                                             sends the records of a relay's dead-letter files (those
                                             even the quarantine topic refused) where they belong, once
                                             the cause is fixed; the relay's KAFKA_* and TOPIC_* settings

Options:
  --relay URL     the relay (BEHAVIOR_INGEST_RELAY, default http://127.0.0.1:8080)
  --token T       admin token or the tenant's secret key (BEHAVIOR_INGEST_TOKEN)
  --brokers LIST  Kafka bootstrap brokers for tail and redrive (KAFKA_BROKERS, default 127.0.0.1:9092)
  --spool-dir DIR the relay's spool directory, for redrive (SPOOL_DIR, default .dev/spool)
  --exists-ok     a config that exists already is kept and printed instead of a conflict

Exit codes: 0 done, 1 refused (by the relay, or events that do not validate), 2 wrong usage,
3 a server is unreachable.`;

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        relay: { type: "string" },
        token: { type: "string" },
        brokers: { type: "string" },
        version: { type: "string" },
        name: { type: "string" },
        kind: { type: "string" },
        origin: { type: "string", multiple: true },
        rejected: { type: "boolean" },
        scenario: { type: "string" },
        follow: { type: "boolean", short: "f" },
        last: { type: "string" },
        json: { type: "boolean" },
        window: { type: "string" },
        "spool-dir": { type: "string" },
        "exists-ok": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\nRun behavior-ingest --help for the commands.`);
    process.exit(EXIT.usage);
  }
})();

const access: RelayAccess = {
  relayUrl: flags.relay ?? process.env.BEHAVIOR_INGEST_RELAY ?? "http://127.0.0.1:8080",
  token: flags.token ?? process.env.BEHAVIOR_INGEST_TOKEN,
};
/** JSON answers: indented for a terminal, one line for a pipe. */
const print = (value: unknown) =>
  console.log(JSON.stringify(value, null, process.stdout.isTTY ? 2 : undefined));
const usage = (message: string): never => {
  throw new CliError(`${message}\nRun behavior-ingest --help for the commands.`, EXIT.usage);
};
const arg = (index: number, name: string): string => positionals[index] ?? usage(`missing <${name}>`);
const tenantArg = (index: number): string => {
  const tenant = arg(index, "tenant");
  if (!isValidTenantId(tenant)) usage(`"${tenant}" is not a tenant id: 1–64 of a-z, 0-9 and _`);
  return tenant;
};
const readJson = async (path: string): Promise<unknown> => {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`, EXIT.usage);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${path} is not JSON: ${(error as Error).message}`, EXIT.refused);
  }
};
const path = (...parts: string[]) => parts.map(encodeURIComponent).join("/");

/** The tenant's active configs from the relay, or undefined (with why) when it cannot be asked. */
const configsOf = async (tenant: string): Promise<TrackingConfig[] | string> => {
  try {
    const { configs } = (await callRelay(
      access,
      "GET",
      `/api/v1/tracking-configs?tenant_id=${encodeURIComponent(tenant)}`,
    )) as { configs: TrackingConfig[] };
    return configs;
  } catch (error) {
    return (error as Error).message.split("\n")[0] as string;
  }
};

/** A create that, with --exists-ok, answers with the config already there instead of failing. */
const existsOk = async (create: () => Promise<unknown>, target: string) => {
  try {
    return await create();
  } catch (error) {
    if (!(flags["exists-ok"] && error instanceof CliError && error.code === "conflict")) throw error;
    const [tenant = "", scenario = ""] = target.split("/");
    return callRelay(access, "GET", `/api/v1/tracking-configs/${path(tenant, scenario)}`);
  }
};

const configs = async () => {
  const action = arg(1, "list|get|create|from-template|update|delete");
  switch (action) {
    case "list":
      return print(
        await callRelay(
          access,
          "GET",
          `/api/v1/tracking-configs?tenant_id=${encodeURIComponent(tenantArg(2))}`,
        ),
      );
    case "get":
      return print(
        await callRelay(
          access,
          "GET",
          `/api/v1/tracking-configs/${path(tenantArg(2), arg(3, "scenario"))}${flags.version ? `?version=${encodeURIComponent(flags.version)}` : ""}`,
        ),
      );
    case "create": {
      const config = (await readJson(arg(2, "config.json"))) as { tenant_id?: string; scenario_id?: string };
      return print(
        await existsOk(
          () => callRelay(access, "POST", "/api/v1/tracking-configs", config),
          `${config?.tenant_id}/${config?.scenario_id}`,
        ),
      );
    }
    case "from-template": {
      const [tenant_id, scenario_id, template_id] = [tenantArg(2), arg(3, "scenario"), arg(4, "template")];
      return print(
        await existsOk(
          () =>
            callRelay(access, "POST", "/api/v1/tracking-configs/from-template", {
              tenant_id,
              scenario_id,
              template_id,
              name: flags.name ?? scenario_id,
            }),
          `${tenant_id}/${scenario_id}`,
        ),
      );
    }
    case "update":
      return print(
        await callRelay(
          access,
          "PUT",
          `/api/v1/tracking-configs/${path(tenantArg(2), arg(3, "scenario"))}`,
          await readJson(arg(4, "changes.json")),
        ),
      );
    case "delete":
      await callRelay(access, "DELETE", `/api/v1/tracking-configs/${path(tenantArg(2), arg(3, "scenario"))}`);
      return console.log(`deleted ${positionals[2]}/${positionals[3]}`);
    default:
      return usage(`unknown configs command "${action}"`);
  }
};

const keys = async () => {
  const action = arg(1, "create|list|revoke");
  switch (action) {
    case "create": {
      const kind = flags.kind ?? usage("keys create needs --kind secret or --kind publishable");
      return print(
        await callRelay(access, "POST", "/api/v1/api-keys", {
          kind,
          tenant_id: tenantArg(2),
          name: flags.name ?? `${kind} key`,
          ...(flags.origin ? { allowed_origins: flags.origin } : {}),
        }),
      );
    }
    case "list": {
      const tenant = positionals[2];
      return print(
        await callRelay(
          access,
          "GET",
          `/api/v1/api-keys${tenant ? `?tenant_id=${encodeURIComponent(tenant)}` : ""}`,
        ),
      );
    }
    case "revoke":
      await callRelay(access, "DELETE", `/api/v1/api-keys/${path(arg(2, "key_id"))}`);
      return console.log(`revoked ${positionals[2]}`);
    default:
      return usage(`unknown keys command "${action}"`);
  }
};

/** Checks events locally, against their tenants' configs when the relay can be asked. */
const validate = async () => {
  const file = arg(1, "events.json");
  const input = await readJson(file);
  const events = Array.isArray(input)
    ? input
    : Array.isArray((input as { events?: unknown })?.events)
      ? (input as { events: unknown[] }).events
      : [input];
  const tenants = new Set(
    events.map((e) => (e as { tenant_id?: unknown })?.tenant_id).filter(isValidTenantId),
  );
  const configsByTenant = new Map<string, TrackingConfig[]>();
  for (const tenant of tenants) {
    const found = await configsOf(tenant);
    if (typeof found === "string") console.error(`note: checked without ${tenant}'s configs: ${found}`);
    else configsByTenant.set(tenant, found);
  }
  let failed = 0;
  for (const [i, event] of events.entries()) {
    const { tenant_id, scenario_id } = (event ?? {}) as { tenant_id?: string; scenario_id?: string };
    const config = configsByTenant.get(tenant_id ?? "")?.find((c) => c.scenario_id === scenario_id);
    const result = validateEvent(event, config);
    const line = (kind: string, issue: Issue) =>
      `  ${kind} ${issue.path || "(event)"} [${issue.code}]: ${issue.message}`;
    if (flags.json) {
      console.log(
        JSON.stringify({ index: i, ok: result.ok, errors: result.errors, warnings: result.warnings }),
      );
    } else {
      console.log(
        `#${i} ${result.ok ? "valid" : "INVALID"}${result.ok ? ` (would be written to ${topicFor(tenant_id as string)})` : ""}`,
      );
      for (const issue of result.errors) console.log(line("error  ", issue));
      for (const issue of result.warnings) console.log(line("warning", issue));
    }
    if (!result.ok) failed++;
  }
  if (failed > 0) throw new CliError(`${failed} of ${events.length} events are invalid`, EXIT.refused);
};

const tail = async () => {
  const tenant = tenantArg(1);
  const last = Number(flags.last ?? 20);
  if (!Number.isInteger(last) || last < 0) usage("--last must be a whole number");
  const brokers = (flags.brokers ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092")
    .split(",")
    .map((b) => b.trim());
  // --rejected shows the refused events, with their reasons, among the accepted ones.
  const topics = flags.rejected ? [topicFor(tenant), quarantineTopicFor(tenant)] : [topicFor(tenant)];
  const found = await configsOf(tenant);
  const configs = typeof found === "string" ? undefined : found;
  const stop = new AbortController();
  const since = Date.now(); // before "following" is printed: whatever lands after it is shown
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  if (!flags.json) {
    console.error(
      `${flags.follow ? "following" : "reading"} ${topics.join(", ")} on ${brokers.join(",")}${configs ? "" : " (warnings not shown: the relay's configs are not readable)"}${flags.follow ? "; Ctrl-C to stop" : ""}`,
    );
  }
  let shown = 0;
  try {
    for await (const record of tailTopics({
      brokers,
      topics,
      last,
      follow: flags.follow === true,
      since,
      signal: stop.signal,
    })) {
      const live = await toLiveEvent(
        record,
        configs && ((scenario) => configs.find((c) => c.scenario_id === scenario)),
      );
      const scenario = (live.event as { scenario_id?: unknown } | undefined)?.scenario_id;
      if (flags.scenario !== undefined && scenario !== flags.scenario) continue;
      console.log(flags.json ? JSON.stringify(live) : formatLiveEvent(live));
      shown++;
    }
  } catch (error) {
    throw new CliError(
      `cannot read ${topics.join(", ")} from Kafka at ${brokers.join(",")} (${(error as Error).message}): start it (npm run dev) or pass --brokers`,
      EXIT.unreachable,
    );
  }
  if (shown === 0 && !flags.json) console.error("no events yet");
};

/** A tenant's data quality over a window, as the relay's quality API reports it. */
const quality = async () => {
  const tenant = tenantArg(1);
  const window = flags.window ?? "24h";
  if (!(window in QUALITY_WINDOWS))
    usage(`--window must be one of ${Object.keys(QUALITY_WINDOWS).join(", ")}`);
  const report = (await callRelay(
    access,
    "GET",
    `/api/v1/tenants/${path(tenant)}/quality?window=${window}`,
  )) as QualityReport;
  if (flags.json) return print(report);
  console.log(formatQuality(report));
};

/** The relay's settings from the environment, with the flags that override them. */
const relaySettings = (): RelaySettings => {
  try {
    return loadSettings({
      ...process.env,
      ...(flags.brokers === undefined ? {} : { KAFKA_BROKERS: flags.brokers }),
      ...(flags["spool-dir"] === undefined ? {} : { SPOOL_DIR: flags["spool-dir"] }),
    });
  } catch (error) {
    throw new CliError((error as Error).message, EXIT.usage);
  }
};

/**
 * Re-drives the dead-letter files of a relay's spool directory: its own and its workers'
 * (`worker-N/`, with RELAY_WORKERS). One record at a time, each to its topic (created first when the
 * relay would create it); refused again, it stays in the file.
 */
const deadLetters = async () => {
  const action = arg(1, "redrive");
  if (action !== "redrive") return usage(`unknown dead-letters command "${action}"`);
  const settings = relaySettings();
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
  const producer = platformaticProducer({
    clientId: settings.KAFKA_CLIENT_ID,
    brokers: settings.KAFKA_BROKERS,
    connection,
    compression: settings.KAFKA_COMPRESSION,
    requestTimeoutMs: settings.KAFKA_REQUEST_TIMEOUT_MS,
    retryForMs: settings.KAFKA_ACK_TIMEOUT_MS,
  });
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

const main = async () => {
  if (flags.help || positionals.length === 0) return console.log(USAGE);
  const command = positionals[0];
  if (command === "configs") return configs();
  if (command === "keys") return keys();
  if (command === "validate") return validate();
  if (command === "tail") return tail();
  if (command === "quality") return quality();
  if (command === "dead-letters") return deadLetters();
  return usage(`unknown command "${command}"`);
};

try {
  await main();
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  console.error(`behavior-ingest: ${error.message}`);
  process.exitCode = error.exitCode;
}

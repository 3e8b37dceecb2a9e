import type { Command } from "commander";
import { quarantineTopicFor, topicFor } from "../core/index.ts";
import { tailTopics, toLiveEvent } from "../kafka/tail.ts";
import { CliError, EXIT } from "./admin.ts";
import { accessOf, configsOf, type GlobalOptions, tenantArgument, usage } from "./common.ts";
import { formatLiveEvent } from "./format.ts";

/** `tail`: a tenant's events as they land in Kafka, read straight from its topics (docs/cli.md). */

type TailFlags = { rejected?: boolean; scenario?: string; follow?: boolean; last: number; json?: boolean };

const wholeNumber = (value: string) => {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : usage("--last must be a whole number");
};

export const addTail = (program: Command) =>
  program
    .command("tail")
    .description(
      "the last N events, then with --follow new ones as they land; --rejected adds the refused ones and why",
    )
    .addArgument(tenantArgument())
    .option("--rejected", "the refused events too (the -rejected topic), with their reasons")
    .option("--scenario <S>", "only this scenario's events")
    .option("-f, --follow", "keep reading until Ctrl-C")
    .option("--last <N>", "how many of the events already there to show first", wholeNumber, 20)
    .option("--json", "one JSON object per event")
    .action(async (tenant: string, options: TailFlags, command: Command) => {
      const { brokers } = command.optsWithGlobals<GlobalOptions>();
      // --rejected shows the refused events, with their reasons, among the accepted ones.
      const topics = options.rejected ? [topicFor(tenant), quarantineTopicFor(tenant)] : [topicFor(tenant)];
      const found = await configsOf(accessOf(command), tenant);
      const configs = typeof found === "string" ? undefined : found;
      const stop = new AbortController();
      const since = Date.now(); // before "following" is printed: whatever lands after it is shown
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      if (!options.json) {
        console.error(
          `${options.follow ? "following" : "reading"} ${topics.join(", ")} on ${brokers.join(",")}${configs ? "" : " (warnings not shown: the relay's configs are not readable)"}${options.follow ? "; Ctrl-C to stop" : ""}`,
        );
      }
      let shown = 0;
      try {
        for await (const record of tailTopics({
          brokers,
          topics,
          last: options.last,
          follow: options.follow === true,
          since,
          signal: stop.signal,
        })) {
          const live = await toLiveEvent(
            record,
            configs && ((scenario) => configs.find((c) => c.scenario_id === scenario)),
          );
          const scenario = (live.event as { scenario_id?: unknown } | undefined)?.scenario_id;
          if (options.scenario !== undefined && scenario !== options.scenario) continue;
          console.log(options.json ? JSON.stringify(live) : formatLiveEvent(live));
          shown++;
        }
      } catch (error) {
        throw new CliError(
          `cannot read ${topics.join(", ")} from Kafka at ${brokers.join(",")} (${(error as Error).message}): start it (npm run dev) or pass --brokers`,
          EXIT.unreachable,
        );
      }
      if (shown === 0 && !options.json) console.error("no events yet");
    });

#!/usr/bin/env node
// `behavior-ingest`: the tracking-config and key admin API, local validation, `tail`, a live view
// of a tenant's events as they land in Kafka, `quality`, and `dead-letters redrive`. The command line is
// commander's (docs/decisions/cli-framework.md), one file per command group; the settings
// (BEHAVIOR_INGEST_RELAY, BEHAVIOR_INGEST_TOKEN, KAFKA_BROKERS) are parsed once, here (settings.ts),
// and each has a flag that overrides it.
import { Command, CommanderError, Option } from "commander";
import { CliError, EXIT } from "./admin.ts";
import { HELP_HINT } from "./common.ts";
import { addConfigs } from "./configs.ts";
import { addDeadLetters } from "./dead-letters.ts";
import { addKeys } from "./keys.ts";
import { addQuality } from "./quality.ts";
import { CliSettings, loadCliSettings, settingFlag } from "./settings.ts";
import { addTail } from "./tail.ts";
import { addValidate } from "./validate.ts";

const EXIT_CODES = `
Exit codes: 0 done, 1 refused (by the relay, or events that do not validate), 2 wrong usage,
3 a server is unreachable.`;

/** The whole command line: the settings' flags on the root, which every command takes. */
const cli = (env: Record<string, string | undefined>) => {
  const settings = loadCliSettings(env);
  const program = new Command("behavior-ingest")
    .description("tracking configs, API keys, validation and a live view of events")
    .addOption(
      new Option("--relay <URL>", "the relay (BEHAVIOR_INGEST_RELAY)")
        .default(settings.BEHAVIOR_INGEST_RELAY)
        .argParser(settingFlag("--relay", CliSettings.shape.BEHAVIOR_INGEST_RELAY)),
    )
    .addOption(
      // Help says whether one is set, never what it is.
      new Option("--token <T>", "admin token or the tenant's secret key (BEHAVIOR_INGEST_TOKEN)").default(
        settings.BEHAVIOR_INGEST_TOKEN,
        "set, not shown",
      ),
    )
    .addOption(
      new Option("--brokers <LIST>", "Kafka bootstrap brokers for tail and redrive (KAFKA_BROKERS)")
        .default(settings.KAFKA_BROKERS, settings.KAFKA_BROKERS.join(","))
        .argParser(settingFlag("--brokers", CliSettings.shape.KAFKA_BROKERS)),
    )
    .addHelpText("after", EXIT_CODES)
    // Commander's refusals of a command line look like the CLI's own (`usage` in common.ts): one line
    // naming the CLI, then where to look. They are thrown, not exited on, for main to give exit 2.
    .configureOutput({
      outputError: (text, write) =>
        write(
          `behavior-ingest: ${text
            .replace(/^error: /, "")
            // The CLI's words for a missing argument since before commander (test/integration/cli.test.ts).
            .replace(/^missing required argument '(.+)'/, "missing <$1>")}`,
        ),
    })
    .showHelpAfterError(HELP_HINT)
    .exitOverride();
  // Set on the root before the commands are added: each inherits the output and exit handling.
  addConfigs(program);
  addKeys(program);
  addValidate(program);
  addTail(program);
  addQuality(program);
  addDeadLetters(program, env);
  return program;
};

try {
  const args = process.argv.slice(2);
  // Without a command, the help, on stdout with exit 0 (commander would call it wrong usage).
  await cli(process.env).parseAsync(args.length === 0 ? ["--help"] : args, { from: "user" });
} catch (error) {
  if (error instanceof CommanderError) {
    // Help asked for is 0; any other is a command line commander refused, and has said why.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
  } else if (error instanceof CliError) {
    console.error(`behavior-ingest: ${error.message}`);
    process.exitCode = error.exitCode;
  } else {
    throw error;
  }
}

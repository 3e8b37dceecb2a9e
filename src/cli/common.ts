import { readFile } from "node:fs/promises";
import { Argument, type Command } from "commander";
import { isValidTenantId, type TrackingConfig } from "../core/index.ts";
import { CliError, callRelay, EXIT, type RelayAccess } from "./admin.ts";

/** What the commands share: the global options, the relay, the tenant argument, JSON in and out. */

/**
 * The options every command has (main.ts), each a setting its flag overrides (settings.ts): already
 * resolved, so a command never reads the environment itself.
 */
export type GlobalOptions = {
  relay: string;
  token: string | undefined;
  brokers: string[];
};

/** How a command reaches the relay's admin API. */
export const accessOf = (command: Command): RelayAccess => {
  const { relay, token } = command.optsWithGlobals<GlobalOptions>();
  return { relayUrl: relay, token };
};

/** Where every wrong command line points to, commander's own refusals included. */
export const HELP_HINT = "Run behavior-ingest --help for the commands.";

/** A wrong command line: exit 2. */
export const usage = (message: string): never => {
  throw new CliError(`${message}\n${HELP_HINT}`, EXIT.usage);
};

/** `<tenant>`, checked before anything is asked of the relay or Kafka. */
export const tenantArgument = () =>
  new Argument("<tenant>", "the tenant's id").argParser((tenant: string) =>
    isValidTenantId(tenant) ? tenant : usage(`"${tenant}" is not a tenant id: 1–64 of a-z, 0-9 and _`),
  );

/** JSON answers: indented for a terminal, one line for a pipe. */
export const print = (value: unknown) =>
  console.log(JSON.stringify(value, null, process.stdout.isTTY ? 2 : undefined));

/** A JSON file the user named: one that cannot be read is wrong usage, one that is not JSON refused. */
export const readJson = async (path: string): Promise<unknown> => {
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

/** An admin API path from ids, each escaped. */
export const relayPath = (...parts: string[]) => parts.map(encodeURIComponent).join("/");

/** The tenant's active configs from the relay, or why they cannot be had (its first line). */
export const configsOf = async (access: RelayAccess, tenant: string): Promise<TrackingConfig[] | string> => {
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

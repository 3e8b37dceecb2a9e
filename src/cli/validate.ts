import type { Command } from "commander";
import { type Issue, isValidTenantId, type TrackingConfig, topicFor, validateEvent } from "../core/index.ts";
import { CliError, EXIT } from "./admin.ts";
import { accessOf, configsOf, readJson } from "./common.ts";

/** `validate`: events checked locally, against their tenants' configs when the relay can be asked. */

const line = (kind: string, issue: Issue) =>
  `  ${kind} ${issue.path || "(event)"} [${issue.code}]: ${issue.message}`;

export const addValidate = (program: Command) =>
  program
    .command("validate")
    .description("check events as the edge and the relay would, without sending them")
    .argument("<events.json>", 'one event, an array, or {"events": […]}')
    .option("--json", "one JSON object per event")
    .action(async (file: string, options: { json?: boolean }, command: Command) => {
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
        const found = await configsOf(accessOf(command), tenant);
        if (typeof found === "string") console.error(`note: checked without ${tenant}'s configs: ${found}`);
        else configsByTenant.set(tenant, found);
      }
      let failed = 0;
      for (const [i, event] of events.entries()) {
        const { tenant_id, scenario_id } = (event ?? {}) as { tenant_id?: string; scenario_id?: string };
        const config = configsByTenant.get(tenant_id ?? "")?.find((c) => c.scenario_id === scenario_id);
        const result = validateEvent(event, config);
        if (options.json) {
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
    });

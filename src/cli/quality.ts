import type { Command } from "commander";
import { QUALITY_WINDOWS, type QualityReport } from "../core/index.ts";
import { callRelay } from "./admin.ts";
import { accessOf, print, relayPath, tenantArgument, usage } from "./common.ts";
import { formatQuality } from "./format.ts";

/** `quality`: a tenant's data quality over a window, as the relay's quality API reports it. */

const WINDOWS = Object.keys(QUALITY_WINDOWS);

export const addQuality = (program: Command) =>
  program
    .command("quality")
    .description(
      "pass, warning and refusal rates, the four targets, the fields that fail most and what direct writers wrote",
    )
    .addArgument(tenantArgument())
    .option(
      `--window <${WINDOWS.join("|")}>`,
      "the hours counted, up to now",
      (window: string) =>
        Object.hasOwn(QUALITY_WINDOWS, window)
          ? window
          : usage(`--window must be one of ${WINDOWS.join(", ")}`),
      "24h",
    )
    .option("--json", "the API's answer as it is")
    .action(async (tenant: string, options: { window: string; json?: boolean }, command: Command) => {
      const report = (await callRelay(
        accessOf(command),
        "GET",
        `/api/v1/tenants/${relayPath(tenant)}/quality?window=${options.window}`,
      )) as QualityReport;
      if (options.json) print(report);
      else console.log(formatQuality(report));
    });

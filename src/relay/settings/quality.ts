import * as z from "zod";
import { intSetting as int } from "../../core/index.ts";

/** Data quality: how the relay's counts reach the stored aggregates, and the auditor a relay may run. */
export const QualitySettings = z.object({
  /** How often the quality counts are added to the hourly aggregates in MongoDB (the quality API's data). */
  QUALITY_FLUSH_MS: int(5000),
  /**
   * The most quality cells (tenant × hour × source × scenario) one flush writes, so that a flush holds
   * the store only briefly (docs/quality.md has the figures); the rest wait in memory, merged.
   */
  QUALITY_FLUSH_MAX_CELLS: int(200, 1),
  /** Also run the auditor, which re-checks what every writer put into the tenants' topics (src/auditor/). */
  AUDITOR_ENABLED: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  /** How often the auditor looks for new tenant topics and measures its lag. */
  AUDITOR_DISCOVER_MS: int(10_000),
  /**
   * Bytes of one partition an auditor's fetch brings at most: one tenant's backlog takes this much per
   * partition of each fetch, and the other tenants' records come in the same fetch.
   */
  AUDITOR_FETCH_BYTES_PER_PARTITION: int(1024 * 1024, 1024),
  /** The topics the auditor reads, as a regular expression (default: every tenant's event topic). */
  AUDITOR_TOPICS: z
    .string()
    .optional()
    .transform((pattern, ctx) => {
      if (pattern === undefined) return undefined;
      try {
        return new RegExp(pattern);
      } catch (error) {
        // RegExp throws SyntaxError for a pattern it cannot compile: a wrong setting, reported as one.
        if (!(error instanceof SyntaxError)) throw error;
        ctx.addIssue({ code: "custom", message: `must be a regular expression: ${error.message}` });
        return z.NEVER;
      }
    }),
});

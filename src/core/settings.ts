import * as z from "zod";
import { parseTenantLimits } from "./rate-limit.ts";

/**
 * What the relay's and the edge's settings have in common: how numbers are read from the environment,
 * the rate limits with one set of defaults, and one way to report bad values. Each side parses its
 * whole environment once at start-up with a zod schema built from these.
 */

/** An integer setting given as text, with a default and a lower bound. */
export const intSetting = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

/**
 * Events per second per API key and per tenant (a batch counts its events; the burst is one second's
 * worth, so at least 100, the largest batch); beyond them 429 with Retry-After. Overrides of the tenant
 * limit: `mymx=50000,acme=200`.
 */
export const rateLimitSettings = {
  RATE_LIMIT_KEY_EVENTS_PER_SECOND: intSetting(5000, 100),
  RATE_LIMIT_TENANT_EVENTS_PER_SECOND: intSetting(20_000, 100),
  RATE_LIMIT_TENANT_OVERRIDES: z
    .string()
    .default("")
    .transform((text, ctx) => {
      try {
        return parseTenantLimits(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
};

/** Bad settings: the message gives each bad variable a line of its own, for a server's log. */
export class SettingsError extends Error {
  /** The same on one line (`NAME: what is wrong; …`), for a command line tool's one-line errors. */
  readonly oneLine: string;

  constructor(what: string, issues: readonly string[]) {
    super(`invalid ${what} settings:\n${issues.map((issue) => `  ${issue}`).join("\n")}`);
    this.oneLine = `invalid ${what} settings: ${issues.join("; ")}`;
  }
}

/** Parses an environment with a settings schema; a bad value throws a SettingsError naming the variable. */
export const parseSettings = <S extends z.ZodType>(
  schema: S,
  env: Record<string, unknown>,
  what: string,
): z.infer<S> => {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new SettingsError(
      what,
      parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
    );
  }
  return parsed.data;
};

import type { Command } from "commander";
import { callRelay } from "./admin.ts";
import { accessOf, print, relayPath, tenantArgument } from "./common.ts";

/** `keys …`: API keys, through the relay's admin API (docs/admin-api.md). */

const KEYS = "/api/v1/api-keys";

export const addKeys = (program: Command) => {
  const keys = program.command("keys").description("API keys: a tenant's secret and publishable keys");

  keys
    .command("create")
    .description("a new key, printed once")
    .addArgument(tenantArgument())
    .requiredOption("--kind <secret|publishable>", "a backend's secret key or a page's publishable one")
    .option(
      "--origin <URL>",
      "an origin a publishable key may be used from; repeat for more",
      (origin: string, origins: string[] = []) => [...origins, origin],
    )
    .option("--name <name>", "what the key is for (default: the kind)")
    .action(
      async (tenant: string, options: { kind: string; origin?: string[]; name?: string }, command: Command) =>
        print(
          await callRelay(accessOf(command), "POST", KEYS, {
            kind: options.kind,
            tenant_id: tenant,
            name: options.name ?? `${options.kind} key`,
            ...(options.origin ? { allowed_origins: options.origin } : {}),
          }),
        ),
    );

  keys
    .command("list")
    .description("the keys' records (never the keys), all or a tenant's")
    .argument("[tenant]")
    .action(async (tenant: string | undefined, _options: object, command: Command) =>
      print(
        await callRelay(
          accessOf(command),
          "GET",
          `${KEYS}${tenant ? `?tenant_id=${encodeURIComponent(tenant)}` : ""}`,
        ),
      ),
    );

  keys
    .command("revoke")
    .description("revoke a key")
    .argument("<key_id>")
    .action(async (keyId: string, _options: object, command: Command) => {
      await callRelay(accessOf(command), "DELETE", `${KEYS}/${relayPath(keyId)}`);
      console.log(`revoked ${keyId}`);
    });
};

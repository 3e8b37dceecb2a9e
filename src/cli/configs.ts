import type { Command } from "commander";
import { CliError, callRelay, type RelayAccess } from "./admin.ts";
import { accessOf, print, readJson, relayPath, tenantArgument } from "./common.ts";

/** `configs …`: a tenant's tracking configs, through the relay's admin API (docs/admin-api.md). */

const CONFIGS = "/api/v1/tracking-configs";

/** A create that, with --exists-ok, answers with the config already there instead of failing. */
const created = async (
  access: RelayAccess,
  existsOk: boolean | undefined,
  target: { tenant: string; scenario: string },
  create: () => Promise<unknown>,
) => {
  try {
    return await create();
  } catch (error) {
    if (!(existsOk && error instanceof CliError && error.code === "conflict")) throw error;
    return callRelay(access, "GET", `${CONFIGS}/${relayPath(target.tenant, target.scenario)}`);
  }
};

const EXISTS_OK = "a config that exists already is kept and printed instead of a conflict";

export const addConfigs = (program: Command) => {
  const configs = program.command("configs").description("a tenant's tracking configs");

  configs
    .command("list")
    .description("the tenant's active configs")
    .addArgument(tenantArgument())
    .action(async (tenant: string, _options: object, command: Command) =>
      print(await callRelay(accessOf(command), "GET", `${CONFIGS}?tenant_id=${encodeURIComponent(tenant)}`)),
    );

  configs
    .command("get")
    .description("one config, the active version or --version N")
    .addArgument(tenantArgument())
    .argument("<scenario>")
    .option("--version <N>", "that version of the config, also one replaced since")
    .action(async (tenant: string, scenario: string, options: { version?: string }, command: Command) => {
      const version = options.version === undefined ? "" : `?version=${encodeURIComponent(options.version)}`;
      print(await callRelay(accessOf(command), "GET", `${CONFIGS}/${relayPath(tenant, scenario)}${version}`));
    });

  configs
    .command("create")
    .description("a config from a file (tenant_id and scenario_id in it)")
    .argument("<config.json>")
    .option("--exists-ok", EXISTS_OK)
    .action(async (file: string, options: { existsOk?: boolean }, command: Command) => {
      const access = accessOf(command);
      const config = (await readJson(file)) as { tenant_id?: string; scenario_id?: string } | null;
      const target = { tenant: `${config?.tenant_id}`, scenario: `${config?.scenario_id}` };
      print(
        await created(access, options.existsOk, target, () => callRelay(access, "POST", CONFIGS, config)),
      );
    });

  configs
    .command("from-template")
    .description("a config from one of the built-in templates")
    .addArgument(tenantArgument())
    .argument("<scenario>")
    .argument("<template>", "e.g. video, ecommerce")
    .option("--name <name>", "the config's display name (default: the scenario)")
    .option("--exists-ok", EXISTS_OK)
    .action(
      async (
        tenant: string,
        scenario: string,
        template: string,
        options: { name?: string; existsOk?: boolean },
        command: Command,
      ) => {
        const access = accessOf(command);
        const body = {
          tenant_id: tenant,
          scenario_id: scenario,
          template_id: template,
          name: options.name ?? scenario,
        };
        print(
          await created(access, options.existsOk, { tenant, scenario }, () =>
            callRelay(access, "POST", `${CONFIGS}/from-template`, body),
          ),
        );
      },
    );

  configs
    .command("update")
    .description("changes to a config from a file, with the version they apply to")
    .addArgument(tenantArgument())
    .argument("<scenario>")
    .argument("<changes.json>", 'e.g. {"strict": true, "version": 1}')
    .action(async (tenant: string, scenario: string, file: string, _options: object, command: Command) =>
      print(
        await callRelay(
          accessOf(command),
          "PUT",
          `${CONFIGS}/${relayPath(tenant, scenario)}`,
          await readJson(file),
        ),
      ),
    );

  configs
    .command("delete")
    .description("deactivate a config (its versions are kept)")
    .addArgument(tenantArgument())
    .argument("<scenario>")
    .action(async (tenant: string, scenario: string, _options: object, command: Command) => {
      await callRelay(accessOf(command), "DELETE", `${CONFIGS}/${relayPath(tenant, scenario)}`);
      console.log(`deleted ${tenant}/${scenario}`);
    });
};

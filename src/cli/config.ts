/** `agent-supervisor config check|print`: validate and show the settings. */
import type { Command } from "commander";
import { redactSettings } from "../config/load.ts";
import { settingsSchema, SETTING_NAMES } from "../config/schema.ts";
import { selectModels } from "../supervisor/gateway-config.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";

/** Register `config check` and `config print`. */
export function registerConfig(program: Command, ctx: CliContext): void {
  const { out } = ctx;
  const config = program.command("config").description("inspect settings");
  config
    .command("check")
    .description("validate settings and exit (78 when invalid)")
    .option(...CONFIG_OPTION)
    .action(() => {
      const { settings, file } = ctx.load();
      // As `run`: standalone, a provider is required; with a control plane, its secrets bring the keys.
      const fromControlPlane = settings.CONTROL_PLANE_URL !== undefined;
      if (!fromControlPlane) selectModels(settings);
      out(`config ok${file ? ` (${file})` : " (environment only)"}${fromControlPlane ? "; model provider keys come from the control plane" : ""}`);
    });
  config
    .command("print")
    .description("print the effective settings, secrets redacted")
    .option(...CONFIG_OPTION)
    .option("--json", "as JSON")
    .option("--reference", "print every setting with its default and meaning (markdown)")
    .action((o: { json?: boolean; reference?: boolean }) => {
      if (o.reference) {
        out("| Setting | Default | Meaning |\n| --- | --- | --- |");
        for (const name of SETTING_NAMES) {
          const field = settingsSchema.shape[name];
          const def = field.safeParse(undefined);
          const shown = def.success && def.data !== undefined ? `\`${String(def.data)}\`` : "(unset)";
          out(`| \`${name}\` | ${shown} | ${field.description ?? ""} |`);
        }
        return;
      }
      const red = redactSettings(ctx.load().settings);
      if (o.json) return out(JSON.stringify(red, null, 2));
      for (const [k, v] of Object.entries(red)) out(`${k}=${v ?? ""}`);
    });
}

/**
 * NODE_EXTRA_CA_CERTS from the env file. Node reads that variable only from the environment at
 * process start (https://nodejs.org/api/cli.html#node_extra_ca_certsfile). Under systemd the
 * unit's EnvironmentFile= exports it, but a command run from a shell (`agent-supervisor doctor`,
 * or `run` in the foreground) reads the same env file only as settings. This applies the setting
 * to the running process the way Node would have: its certificates are added to the default CA
 * list that every TLS client of the process (fetch included) uses.
 */
import { readFileSync } from "node:fs";
import * as nodeTls from "node:tls";
import { ConfigError } from "../core/errors.ts";

/** The two calls used from node:tls (Node >= 22.19 / 24.5), injectable for tests. */
export type TlsCaApi = Pick<typeof nodeTls, "getCACertificates" | "setDefaultCACertificates">;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Trust the certificates in `file` (the NODE_EXTRA_CA_CERTS setting) unless the environment already
 * set the variable to that file, in which case Node has loaded them itself.
 * @param file the setting, or undefined when unset
 * @param env the process environment
 * @returns "unset", "environment" (Node loaded it at start) or "applied" (added now)
 * @throws ConfigError naming NODE_EXTRA_CA_CERTS when the file cannot be read or holds no PEM certificate
 */
export function trustExtraCaCertificates(
  file: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  tls: TlsCaApi = nodeTls,
): "unset" | "environment" | "applied" {
  if (file === undefined) return "unset";
  if (env.NODE_EXTRA_CA_CERTS === file) return "environment";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`NODE_EXTRA_CA_CERTS: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const certs = text.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new ConfigError(`NODE_EXTRA_CA_CERTS: ${file} holds no PEM certificate`);
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ...certs]);
  return "applied";
}

/**
 * Pure: does a verified change from the control plane (secrets-poller.ts `SecretsChange`) change
 * what the gateway is launched with? The runtime's secrets document also carries the desired
 * OpenClaw version (`gateway.openclawVersion`, issue 14), which the gateway is not started with:
 * the version change (daemon/upgrade.ts) drains, stops and starts the gateway itself when it runs.
 * A document that differs from the stored one only there (and in its own `version`) is stored
 * and handed to the version runner, but restarts nothing.
 */
import { isDeepStrictEqual } from "node:util";
import type { Secrets } from "./contract.ts";
import type { SecretsChange } from "./secrets-poller.ts";

/** `s` without what the gateway is not launched with: the document's `version` and `gateway.openclawVersion`. */
function launchPart(s: Secrets): unknown {
  const { version: _version, gateway, ...rest } = s;
  const { openclawVersion: _desired, ...otherGateway } = gateway ?? {};
  // Through JSON, as the documents are stored: a key holding undefined equals an absent one.
  return JSON.parse(JSON.stringify(Object.keys(otherGateway).length > 0 ? { ...rest, gateway: otherGateway } : rest));
}

/**
 * Whether storing `change` over the stored secrets `before` changes the gateway's launch inputs
 * (provider keys, models, skills, any gateway setting but the desired OpenClaw version).
 * @param before the secrets stored now (GatewayLaunch.secrets); undefined when none are
 * @returns true with new skills, or secrets that differ from `before` in more than `version` and
 *   `gateway.openclawVersion` (or with nothing stored before); false when the change holds
 *   neither secrets nor skills, or only a new desired OpenClaw version
 */
export function launchInputsChanged(before: Secrets | undefined, change: SecretsChange): boolean {
  if (change.skills) return true;
  if (!change.secrets) return false;
  if (!before) return true;
  return !isDeepStrictEqual(launchPart(before), launchPart(change.secrets));
}

/**
 * `agent-supervisor turn "text"`: send one turn through the running daemon's local API and wait
 * for its reply. `main.ts` wires the client and the output streams in.
 */
import { InvalidArgumentError } from "commander";
import { TempFailError } from "../errors.ts";
import { type ApiClient, TurnWaitTimeoutError } from "./client.ts";

/** Inputs of {@link runTurnCommand}. */
export type TurnCommandOptions = {
  client: Pick<ApiClient, "submitTurn" | "waitTurn">;
  conversationId: string;
  text: string;
  /** How long to wait for the reply (ms). */
  timeoutMs: number;
  /** The local API token file, named in the hint printed on a wait timeout. */
  tokenPath: string;
  writeOut: (line: string) => void;
  writeErr: (line: string) => void;
};

/**
 * Submit the turn and wait for it.
 * @returns the exit code: 0 after printing the reply (turn `done`), 1 after printing the error
 *   code and message (turn `failed`)
 * @throws TempFailError ERR_WAIT_TIMEOUT (exit 75, EX_TEMPFAIL) when the turn is still `accepted`
 *   or `delivering` after `timeoutMs`: its message says so and how to read the turn later;
 *   DaemonUnreachableError and ApiError from the client as they come
 */
export async function runTurnCommand(o: TurnCommandOptions): Promise<number> {
  const { turnId } = await o.client.submitTurn({ conversationId: o.conversationId, message: o.text });
  let view;
  try {
    view = await o.client.waitTurn(turnId, o.timeoutMs);
  } catch (e) {
    if (e instanceof TurnWaitTimeoutError) throw new TempFailError(e.code, waitTimeoutMessage(e, o.tokenPath), { cause: e });
    throw e;
  }
  if (view.state === "done") {
    o.writeOut(view.reply ?? "");
    return 0;
  }
  o.writeErr(`turn ${turnId} failed: ${view.error?.code ?? "unknown"}: ${view.error?.message ?? ""}`);
  return 1;
}

const MEANING: Record<string, string> = {
  accepted: "queued, not yet delivered to the gateway",
  delivering: "running in the gateway",
};

/**
 * What a wait timeout means for the user: the turn id and its last state, that the daemon keeps
 * the turn and finishes it on its own, and how to read it later (the local API's
 * `GET /v1/turns/:id`, whose `?wait=` long-polls up to 60 s). Pure; several lines, no final newline.
 */
export function waitTimeoutMessage(e: TurnWaitTimeoutError, tokenPath: string): string {
  const t = e.turn;
  return [
    `turn ${t.turnId} is still ${t.state} (${MEANING[t.state] ?? t.state}) after ${e.waitedMs} ms; the daemon keeps it and it finishes on its own.`,
    "Read it later (add ?wait=60000 to wait up to 60 s):",
    `  curl -H "authorization: Bearer $(cat ${tokenPath})" ${e.url}`,
    "or give the next turn a longer --timeout (ms).",
  ].join("\n");
}

/**
 * commander parser of `--timeout <ms>`: a whole number of milliseconds, 0 or more.
 * @throws InvalidArgumentError otherwise (commander prints it; exit 64 EX_USAGE)
 */
export function parseTimeoutMs(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("must be a whole number of milliseconds");
  return n;
}

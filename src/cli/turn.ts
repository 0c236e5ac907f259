/**
 * `agent-supervisor turn "text"`: send one turn through the running daemon's local API and wait
 * for its reply. {@link registerTurn} wires the client and the output streams in.
 */
import { type Command, InvalidArgumentError } from "commander";
import { dataDirLayout } from "../core/data-dir.ts";
import { type SupervisorError, TempFailError, UnavailableError } from "../core/errors.ts";
import { ApiError, type ApiClient, TurnWaitTimeoutError } from "./api-client.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";
import { apiClientFor, readApiToken } from "./local-api.ts";

/** How long `turn` waits for the reply by default (ms). */
export const DEFAULT_TURN_WAIT_MS = 600_000;

/** Register `turn`. */
export function registerTurn(program: Command, ctx: CliContext): void {
  program
    .command("turn")
    .description("send one turn through the running daemon and print the reply")
    .argument("<text>", "the message")
    .option("--conversation <id>", "conversation id (one gateway session per conversation)", "cli")
    .option(...CONFIG_OPTION)
    .option("--timeout <ms>", "how long to wait for the reply (ms); the turn goes on in the daemon after it (exit 75)", parseTimeoutMs, DEFAULT_TURN_WAIT_MS)
    .option("--json", "print the finished turn as the local API shows it (JSON: reply or error, usage), not just the reply")
    .action(async (text: string, o: { conversation: string; timeout: number; json?: boolean }) => {
      const { settings } = ctx.load();
      const dataDir = settings.AGENT_SUPERVISOR_DATA_DIR;
      ctx.setExitCode(
        await runTurnCommand({
          client: apiClientFor(settings, await readApiToken(dataDir), ctx.host.fetch),
          conversationId: o.conversation,
          text,
          timeoutMs: o.timeout,
          tokenPath: dataDirLayout(dataDir).apiToken,
          json: o.json === true,
          writeOut: ctx.out,
          writeErr: ctx.err,
        }),
      );
    });
}

/** Inputs of {@link runTurnCommand}. */
export type TurnCommandOptions = {
  client: Pick<ApiClient, "submitTurn" | "waitTurn">;
  conversationId: string;
  text: string;
  /** How long to wait for the reply (ms). */
  timeoutMs: number;
  /** The local API token file, named in the hint printed on a wait timeout. */
  tokenPath: string;
  /** Print the finished turn view as one JSON line on stdout (done or failed) instead of the reply or error text. */
  json?: boolean;
  writeOut: (line: string) => void;
  writeErr: (line: string) => void;
};

/**
 * Submit the turn and wait for it. While the daemon is away during the wait (stopped, restarting),
 * one line on stderr says so; the wait goes on until `timeoutMs`.
 * @returns the exit code: 0 after printing the reply (turn `done`), 1 after printing the error
 *   code and message (turn `failed`)
 * @throws TempFailError (exit 75, EX_TEMPFAIL): ERR_WAIT_TIMEOUT when the turn is still `accepted`
 *   or `delivering` after `timeoutMs`, also when the daemon is down then (its message says the turn
 *   goes on and how to read it later); ERR_QUEUE_FULL or ERR_DRAINING when the daemon refused the
 *   turn for now (see {@link refusalError}). UnavailableError (exit 69): ERR_STORAGE_FULL, and
 *   DaemonUnreachableError when the daemon is not running at submit. Other ApiErrors as they come.
 */
export async function runTurnCommand(o: TurnCommandOptions): Promise<number> {
  let turnId: string;
  try {
    ({ turnId } = await o.client.submitTurn({ conversationId: o.conversationId, message: o.text }));
  } catch (e) {
    throw refusalError(e) ?? e;
  }
  let view;
  try {
    view = await o.client.waitTurn(turnId, o.timeoutMs, (e) =>
      o.writeErr(`agent-supervisor: the daemon is not answering (${e.code}: ${e.message}); turn ${turnId} is stored and goes on; still waiting up to --timeout`),
    );
  } catch (e) {
    if (e instanceof TurnWaitTimeoutError) throw new TempFailError(e.code, waitTimeoutMessage(e, o.tokenPath), { cause: e });
    throw e;
  }
  if (o.json) o.writeOut(JSON.stringify(view));
  if (view.state === "done") {
    if (!o.json) o.writeOut(view.reply ?? "");
    return 0;
  }
  if (!o.json) o.writeErr(`turn ${turnId} failed: ${view.error?.code ?? "unknown"}: ${view.error?.message ?? ""}`);
  return 1;
}

/**
 * The error to exit with when the daemon answered the submit with a refusal; nothing was stored.
 * Pure. Returns null for anything else.
 * - 503 ERR_QUEUE_FULL (with its Retry-After, s) and 503 ERR_DRAINING (a stop or restart is under
 *   way): {@link TempFailError}, exit 75, for they pass on their own and a retry shortly works.
 * - 503 ERR_STORAGE_UNAVAILABLE (SQLite refused the write: a lock held elsewhere, an I/O error):
 *   {@link TempFailError}, exit 75; a lock is usually released soon.
 * - 507 ERR_STORAGE_FULL: {@link UnavailableError}, exit 69, not 75: a full disk does not pass on
 *   its own, an operator frees space, and a script retrying on 75 would only loop.
 * - 429 ERR_BUDGET_EXCEEDED (TOKEN_BUDGET_ACTION=refuse, the day's token budget is used up; its
 *   Retry-After is the time to the next UTC day): {@link UnavailableError}, exit 69, for the same
 *   reason: it passes only at midnight UTC or when an operator raises TOKEN_BUDGET_DAILY.
 */
export function refusalError(e: unknown): SupervisorError | null {
  if (!(e instanceof ApiError)) return null;
  const head = `the turn was not accepted, nothing was stored: ${e.message}.`;
  switch (e.code) {
    case "ERR_QUEUE_FULL":
      return new TempFailError(e.code, `${head} ${e.retryAfterS === null ? "Retry shortly." : `Retry in ${e.retryAfterS} s (Retry-After).`}`, { cause: e });
    case "ERR_DRAINING":
      return new TempFailError(e.code, `${head} The daemon is stopping or restarting; retry once it is back (systemctl status agent-supervisor).`, {
        cause: e,
      });
    case "ERR_STORAGE_UNAVAILABLE":
      return new TempFailError(
        e.code,
        `${head} ${e.retryAfterS === null ? "Retry shortly" : `Retry in ${e.retryAfterS} s (Retry-After)`}; if it persists, /health store:writes says why.`,
        { cause: e },
      );
    case "ERR_STORAGE_FULL":
      // Not `head`: the daemon's own message says "not accepted" too.
      return new UnavailableError(e.code, "the turn was not accepted, nothing was stored: the disk of the daemon's data directory is full. Free space on it (agent-supervisor doctor shows it), then retry.", {
        cause: e,
      });
    case "ERR_BUDGET_EXCEEDED":
      return new UnavailableError(
        e.code,
        `${head} The daily token budget resets at midnight UTC${e.retryAfterS === null ? "" : ` (in ${e.retryAfterS} s)`}; to go on now, raise TOKEN_BUDGET_DAILY or set TOKEN_BUDGET_ACTION=warn.`,
        { cause: e },
      );
    default:
      return null;
  }
}

const MEANING: Record<string, string> = {
  accepted: "queued, not yet delivered to the gateway",
  delivering: "running in the gateway",
};

/**
 * What a wait timeout means for the user: the turn id and its last state, that the daemon keeps
 * the turn and finishes it on its own (once it runs again, if it did not answer at the end), and
 * how to read it later (the local API's `GET /v1/turns/:id`, whose `?wait=` long-polls up to
 * 60 s). Pure; several lines, no final newline.
 */
export function waitTimeoutMessage(e: TurnWaitTimeoutError, tokenPath: string): string {
  const t = e.turn;
  const meaning = (state: string) => MEANING[state] ?? state;
  const first =
    e.lastError === null && t !== null
      ? `turn ${e.turnId} is still ${t.state} (${meaning(t.state)}) after ${e.waitedMs} ms; the daemon keeps it and it finishes on its own.`
      : `turn ${e.turnId} is stored in the daemon (${t ? `last seen ${t.state}: ${meaning(t.state)}` : "accepted, not seen since"}), but the daemon did not answer when the wait ended after ${e.waitedMs} ms` +
        ` (${e.lastError?.code ?? "no answer"}: ${e.lastError?.message ?? ""}); it keeps the turn and finishes it once it runs again` +
        " (systemctl status agent-supervisor).";
  return [
    first,
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

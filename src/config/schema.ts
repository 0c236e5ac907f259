/**
 * The one schema for every agent-supervisor setting.
 *
 * Settings arrive as strings (environment variables or an env file), so every field coerces
 * from a string. Each key is `.describe()`d and defaulted; README's configuration reference is
 * generated from this table (`agent-supervisor config print --reference`), so the two cannot drift.
 */
import { resolve } from "node:path";
import cron from "node-cron";
import { z } from "zod";
import { checkDecayPolicy, type DecayPolicy } from "../workspace/decay-plan.ts";

const ms = (def: number, what: string) =>
  z.coerce.number().int().min(0).max(24 * 3600_000).default(def).describe(`${what} (milliseconds)`);

const positiveInt = (def: number, max: number, what: string) =>
  z.coerce.number().int().min(1).max(max).default(def).describe(what);

const optionalString = (what: string) =>
  z
    .string()
    .trim()
    .transform((s) => (s === "" ? undefined : s))
    .optional()
    .describe(what);

const optionalUrl = (what: string) =>
  z
    .string()
    .trim()
    .transform((s) => (s === "" ? undefined : s))
    .pipe(z.url({ protocol: /^https?$/ }).optional())
    .optional()
    .describe(what);

const bool = (def: boolean, what: string) =>
  z
    .enum(["1", "0", "true", "false", "yes", "no", "on", "off"])
    .transform((v) => v === "1" || v === "true" || v === "yes" || v === "on")
    .prefault(def ? "true" : "false")
    .describe(what);

/** Env names whose values are secrets: redacted by `config print` and by the logger. */
export const SECRET_SETTINGS = ["MOONSHOT_API_KEY", "OPENAI_API_KEY", "OPENAI_COMPAT_API_KEY", "CONTROL_PLANE_TOKEN"] as const;

/** True for http(s) URLs whose host is loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Every setting, keyed by its environment variable name.
 * Numbers are milliseconds (`*_MS`), bytes (`*_BYTES`) or counts, as each description says.
 */
export const settingsSchema = z
  .object({
    AGENT_SUPERVISOR_DATA_DIR: z
      .string()
      .trim()
      .min(1)
      .default("/var/lib/agent-supervisor")
      .transform((p) => resolve(p))
      .describe("Data directory (a relative path is resolved against the working directory): SQLite database, gateway state and workspace, tokens, managed OpenClaw runtime"),
    AGENT_SUPERVISOR_LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace"])
      .default("info")
      .describe("Log level of the daemon's JSON log on stdout"),
    METRICS_EVENT_LOOP_RESOLUTION_MS: z.coerce
      .number()
      .int()
      .min(1)
      .max(60_000)
      .default(1000)
      .describe(
        "Period of the daemon's own event-loop-lag sampling behind /metrics nodejs_eventloop_lag_{p50,p90,p99,max,...}_seconds (a block of its loop shows when it overlaps a sample; one this long or longer always does). prom-client's default, 10, wakes the idle daemon 100 times a second (~0.65 % of a core on a 2-vCPU machine; BENCHMARKS.md, Footprint) (milliseconds)",
      ),
    AGENT_SUPERVISOR_HTTP_HOST: z
      .string()
      .trim()
      .min(1)
      .default("127.0.0.1")
      .describe("Address the local API and health endpoints listen on"),
    AGENT_SUPERVISOR_HTTP_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(18790)
      .describe("Port of the local API and health endpoints (0 picks a free port)"),

    OPENCLAW_VERSION: z
      .string()
      .trim()
      .regex(/^\d{4}\.\d{1,2}\.\d{1,3}(-[0-9A-Za-z.-]+)?$/, "must look like 2026.9.6")
      .default("2026.9.6")
      .describe("OpenClaw version that `openclaw install` installs and the daemon runs"),
    OPENCLAW_NODE: optionalString(
      "Path to an existing Node >= 24.16 to run the gateway with, instead of the managed runtime (needs OPENCLAW_ENTRY)",
    ),
    OPENCLAW_ENTRY: optionalString(
      "Path to an existing openclaw.mjs to run, instead of the managed runtime (needs OPENCLAW_NODE)",
    ),
    OPENCLAW_GATEWAY_PORT: z.coerce
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(18789)
      .describe("Loopback port the gateway listens on"),
    NPM_REGISTRY: z
      .url({ protocol: /^https?$/ })
      .default("https://registry.npmjs.org")
      .describe("npm registry that `openclaw install` fetches Node, npm and openclaw from"),
    NODE_EXTRA_CA_CERTS: optionalString(
      "PEM file of CA certificates Node trusts besides its built-in list, for the https calls of the daemon, its commands and the gateway (e.g. /etc/ssl/certs/ca-certificates.crt once a private CA is in the system store). From the env file it works everywhere: the unit's EnvironmentFile= exports it, a command run from a shell adds the certificates itself at start, and the gateway gets it in its environment",
    ),

    GATEWAY_USER: optionalString(
      "System user the gateway runs as, apart from the daemon's user, so that the agent's tools cannot read the daemon's credentials or database (issue 11; the shipped unit sets agent-supervisor-gw, created by install.sh). Needs CAP_SETUID, CAP_SETGID and CAP_KILL (the unit grants them) and setpriv. Set but unusable: the gateway is held, saying why. Unset (development): the gateway runs as the daemon's user and doctor and /health say the boundary is off",
    ),
    GATEWAY_STARTUP_TIMEOUT_MS: ms(240_000, "How long the gateway may take to answer hello-ok before it is killed and restarted"),
    STARTUP_GRACE_MS: ms(
      30_000,
      "After the gateway becomes ready (hello-ok), and after an in-process restart it announced, how long no watchdog may restart it (liveness, memory, event loop, probe turn, stuck runs): the first turn after a boot loads the agent runtime lazily and the gateway is busy for its first seconds (upstream openclaw#74281). The startup itself is bounded by GATEWAY_STARTUP_TIMEOUT_MS alone",
    ),
    GATEWAY_STOP_GRACE_MS: ms(15_000, "How long after SIGTERM the gateway may take to exit before SIGKILL"),
    RESTART_BACKOFF_INITIAL_MS: ms(1_000, "First restart delay after a gateway exit"),
    RESTART_BACKOFF_MAX_MS: ms(60_000, "Largest restart delay"),
    RESTART_BACKOFF_RESET_MS: ms(120_000, "Uptime after which the gateway counts as stable and the backoff resets"),
    DRAIN_TIMEOUT_MS: ms(30_000, "On SIGTERM/SIGINT, how long in-flight turns may finish before the gateway is stopped"),
    UPGRADE_HEALTH_DEADLINE_MS: ms(180_000, "After an OpenClaw version switch, how long the new gateway has to pass the whole health gate (hello-ok, the health RPC, the probe turn when PROBE_TURN_INTERVAL_MS > 0, then UPGRADE_STABLE_MS and a second health RPC) before the change is rolled back"),
    // 10 s: a gateway that dies of its own startup work after hello-ok (a deferred migration, a
    // plugin or channel that loads late, the lazily loaded agent runtime of upstream openclaw#74281)
    // does so within seconds; 10 s catches that at the cost of 10 s more of paused delivery per change.
    UPGRADE_STABLE_MS: ms(
      10_000,
      "Stability period of the health gate after an OpenClaw version switch: once the new gateway has answered hello-ok, the health RPC and the probe turn, its process must stay up and ready with its connection for this long, then answer a second health RPC; a restart, exit or disconnect in between fails the gate and rolls back. Must be below UPGRADE_HEALTH_DEADLINE_MS (checked at load), which bounds the whole gate; 0: no period and no second health RPC",
    ),

    // 8: measured on a 2-core host (BENCHMARKS.md, "Concurrency (issue 15, goal 3)").
    TURN_CONCURRENCY: positiveInt(
      8,
      256,
      "Turns delivered to the gateway at once (one at a time per conversation); the gateway is set to run this many plus one (the probe turn) at once (agents.defaults.maxConcurrent). 8 keeps a 2-core host's gateway busy with 1 s answers while a slow answer holds only one slot in eight (BENCHMARKS.md, Concurrency)",
    ),
    TURN_TIMEOUT_MS: ms(600_000, "Deadline of one turn, from its first delivery, after which it fails"),
    TURN_MAX_ATTEMPTS: positiveInt(5, 100, "Deliveries of one turn (first try plus retries after gateway restarts) before it fails"),
    TURN_MAX_MESSAGE_BYTES: positiveInt(256 * 1024, 16 * 1024 * 1024, "Largest accepted turn message (bytes, UTF-8); larger gets 413"),
    TURN_QUEUE_LIMIT: positiveInt(10_000, 10_000_000, "Most turns waiting (accepted or delivering) before new ones get 503"),
    TURN_RETENTION_MS: z.coerce.number().int().min(0).max(3650 * 24 * 3600_000).default(7 * 24 * 3600_000).describe(
      "Finished turns are deleted this long after they finished, once their result is acknowledged (central: reported to the control plane); until then GET /v1/turns/:id and a retried submit find them (milliseconds; default 7 days)",
    ),
    ERROR_RATE_WINDOW_MS: ms(900_000, "Sliding window over which the share of failed turns is judged (/health turns:error-rate)"),
    ERROR_RATE_PERCENT: z.coerce.number().min(0).max(100).default(5).describe(
      "Failed turns above this share (percent) of those finished in ERROR_RATE_WINDOW_MS make the runtime degraded, naming the dominant error class (the fleet's plan: provider 400/5xx above 5 %)",
    ),
    ERROR_RATE_MIN_TURNS: positiveInt(20, 1_000_000, "Fewest finished turns in the window before the error rate is judged (fewer: never degraded by it)"),
    TURN_RETENTION_COUNT: positiveInt(50_000, 100_000_000, "Most finished turns kept: beyond it the oldest acknowledged ones are deleted before TURN_RETENTION_MS, but never within TURN_RETENTION_MIN_MS of finishing"),
    TOKEN_BUDGET_DAILY: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).describe(
      "Daily token budget: tokens (input + output + cache write, as the gateway reports them) the turns finished in one UTC day may use; 0 = no budget. /health turns:budget warns from TOKEN_BUDGET_WARN_PERCENT and fails at the limit; the status report carries it",
    ),
    TOKEN_BUDGET_WARN_PERCENT: z.coerce.number().min(1).max(100).default(80).describe("Share of TOKEN_BUDGET_DAILY (percent) from which /health turns:budget warns"),
    TOKEN_BUDGET_ACTION: z
      .enum(["warn", "refuse"])
      .default("warn")
      .describe("At the budget's limit: warn (turns still run) or refuse (new local turns get 429 ERR_BUDGET_EXCEEDED until the next UTC day; central turns are the control plane's decision)"),
    TURN_RETENTION_MIN_MS: ms(3_600_000, "No finished turn is deleted sooner than this after it finished, whatever TURN_RETENTION_COUNT says, so a client polling it or retrying its submit still finds it"),
    AUDIT_RETENTION_DAYS: positiveInt(90, 3650, "Audit-trail entries (GET /v1/events, agent-supervisor events) older than this many days are deleted; with a control plane only once it has acknowledged them"),
    AUDIT_MAX_ROWS: positiveInt(100_000, 100_000_000, "Most audit-trail entries kept: beyond it the oldest are deleted before AUDIT_RETENTION_DAYS (with a control plane, only those it has acknowledged)"),
    AUDIT_UNSHIPPED_MAX_ROWS: positiveInt(200_000, 100_000_000, "With a control plane: most audit-trail entries kept while not yet acknowledged by it; beyond it the oldest are deleted and their number recorded as an audit.overflow entry"),

    MOONSHOT_API_KEY: optionalString("Moonshot API key; when set, moonshot/<MOONSHOT_MODEL> is the primary model"),
    MOONSHOT_BASE_URL: z
      .url({ protocol: /^https?$/ })
      .default("https://api.moonshot.ai/v1")
      .describe("Moonshot API base URL"),
    MOONSHOT_MODEL: z.string().trim().min(1).default("kimi-k2.5").describe("Moonshot model id"),
    OPENAI_API_KEY: optionalString("OpenAI API key; the fallback model when Moonshot is also set, else the primary"),
    OPENAI_MODEL: z.string().trim().min(1).default("gpt-5.4-mini").describe("OpenAI model id"),
    OPENAI_COMPAT_BASE_URL: optionalUrl(
      "Base URL of any OpenAI-compatible chat-completions server (e.g. http://127.0.0.1:18999/v1); adds provider 'compat'",
    ),
    OPENAI_COMPAT_API_KEY: optionalString("API key for OPENAI_COMPAT_BASE_URL (optional for local servers)"),
    OPENAI_COMPAT_MODEL: z.string().trim().min(1).default("default").describe("Model id served at OPENAI_COMPAT_BASE_URL"),
    OPENAI_COMPAT_CONTEXT_TOKENS: positiveInt(128_000, 10_000_000, "Context window of the compat model (tokens)"),

    CONTROL_PLANE_URL: optionalUrl(
      "Base URL of the fleet control plane (its API lives under /v1); unset runs standalone. HTTPS is required except to loopback",
    ),
    CONTROL_PLANE_TOKEN: optionalString("Service token sent as `Authorization: Bearer` to the control plane"),
    CONTROL_PLANE_TOKEN_FILE: optionalString(
      "File holding the service token (read at start; an alternative to CONTROL_PLANE_TOKEN, e.g. a systemd credential)",
    ),
    RUNTIME_ID: optionalString("This runtime's id at the control plane (required with CONTROL_PLANE_URL)"),
    ACCOUNT_ID: optionalString("The account this runtime belongs to (required with CONTROL_PLANE_URL)"),
    CLAIM_MAX: positiveInt(4, 100, "Most turns asked for in one claim (never more than free delivery slots)"),
    // 240000: the contract's MAX_WAIT_MS (src/sync/contract.ts; config/ does not import sync/).
    CLAIM_WAIT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(240_000)
      .default(240_000)
      .describe(
        "Long-poll budget of one claim request (milliseconds, at most 240000). Sent capped by what the control plane takes: 60000 (contract 1's limit) unless its claim answers name a larger maxWaitMs",
      ),
    CLAIM_IDLE_JITTER_MS: ms(2_000, "Random pause added between claims that returned no work"),
    HEARTBEAT_INTERVAL_MS: ms(10_000, "How often leases of in-flight central turns are extended"),
    CLAIM_START_TIMEOUT_MS: ms(60_000, "A claimed turn not started within this time has its lease no longer extended, so the control plane can give it to another runtime"),
    STATUS_INTERVAL_MS: ms(30_000, "How often the runtime status is built and compared with the last report, locally; it is sent only when it changed (at once on a gateway state change)"),
    STATUS_KEEPALIVE_MS: ms(600_000, "Longest time between two status reports when nothing changed (the control plane's sign of life from an idle runtime, besides its claims)"),
    SECRETS_POLL_MS: ms(
      60_000,
      "How often secrets and the skills manifest are polled. Not while the control plane announces their versions on claim answers (a change is then fetched at once); again once no claim was answered for this long",
    ),
    SYNC_BACKOFF_MAX_MS: ms(60_000, "Largest pause between retries of control-plane calls (results, claims)"),
    CRASH_LOOP_WINDOW_MS: ms(600_000, "Window of the crash-loop breaker"),
    CRASH_LOOP_MAX_RESTARTS: positiveInt(5, 1000, "Failed starts within CRASH_LOOP_WINDOW_MS that open the breaker (status failed; retries continue every RESTART_BACKOFF_MAX_MS)"),
    LIVENESS_INTERVAL_MS: ms(15_000, "Interval of the protocol-level liveness probe (the gateway's health RPC) while the gateway is ready"),
    LIVENESS_TIMEOUT_MS: ms(10_000, "Timeout of one liveness probe"),
    LIVENESS_FAILURES: positiveInt(3, 100, "Consecutive failed liveness probes after which the gateway counts as hung and is restarted"),
    EVENT_LOOP_SAMPLE_MS: ms(5_000, "Interval of samples of the gateway's event-loop delay (its /readyz on loopback) while the gateway is ready; 0 turns the event-loop watchdog off"),
    EVENT_LOOP_WARN_MS: ms(1_000, "Event-loop delay (the gateway's p99 over its ~1 s sampling window) at or above which the gateway lags; lag in every sample for EVENT_LOOP_SUSTAIN_MS makes /health gateway:event-loop warn and the status degraded (OpenClaw's own threshold is 1000 ms)"),
    EVENT_LOOP_STALL_MS: ms(10_000, "A block of the gateway's event loop this long (its largest delay, or /readyz unanswered within this time) is a stall; stalls in every sample for EVENT_LOOP_SUSTAIN_MS, with answers between them, restart the gateway (cause stall). Silence alone is left to the liveness probe"),
    EVENT_LOOP_SUSTAIN_MS: ms(60_000, "How long lag or stalls must show in every event-loop sample before they count (also the grace after each hello-ok: no verdict before one whole window)"),
    PROVIDER_CHECK_INTERVAL_MS: ms(600_000, "How often each configured provider's key is checked with a call that costs no tokens (GET <baseUrl>/models, 10 s timeout), besides at start, after every key rotation and after a turn refused for its key; 0 checks only then; /health provider:auth"),
    PROBE_TURN_INTERVAL_MS: ms(
      0,
      "Interval of the end-to-end probe turn (a real message to the model in the daemon's own session, never a turn of the queue or the control plane); 0 turns it off. Each probe costs one model call (tokens with a real provider)",
    ),
    PROBE_TURN_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000).describe("Time one probe turn may take before it counts as missed (milliseconds)"),
    PROBE_TURN_MISSES: positiveInt(3, 100, "Consecutive missed probe turns (no reply in time) after which the gateway is restarted (cause probe), once per gateway process"),
    PROBE_TURN_MESSAGE: z.string().trim().min(1).max(1000).default("ping: reply with pong").describe("The probe turn's message"),
    PROBE_TURN_PRUNE_EVERY: positiveInt(20, 10_000, "The probe session is deleted (archived, then deleted through the gateway) after this many probes, and at the first probe of each gateway process, so it never holds more"),
    RUN_STUCK_MS: ms(
      240_000,
      "A turn's run with no sign of work from the gateway (no agent, chat or task event for its run or session, no ack) for this long is aborted through the gateway; a turn whose run never started (the session's lane not released) gets the session's work aborted. 0 turns it off. Keep it above the providers' request timeout (120 s), which the gateway itself enforces and reports",
    ),
    RUN_STUCK_ABORT_GRACE_MS: ms(60_000, "After a stuck run or session was aborted, how long it may stay without progress before the gateway is restarted (cause stuck)"),
    MEMORY_LIMIT_MB: z.coerce.number().int().min(64).max(1_048_576).optional().describe("RSS limit of the gateway's process tree in MiB (default: MEMORY_LIMIT_PERCENT of host memory)"),
    MEMORY_LIMIT_PERCENT: z.coerce.number().min(1).max(100).default(75).describe("RSS limit of the gateway's process tree as a share of host memory (percent), when MEMORY_LIMIT_MB is unset (the gateway alone takes about 1.2 GB after its first turn)"),
    MEMORY_SUSTAIN_MS: ms(300_000, "How long the RSS must stay above the limit before the gateway is drained and restarted"),
    MEMORY_SAMPLE_MS: ms(15_000, "Interval of RSS samples (kept in SQLite as a trend)"),
    GATEWAY_LOG_MAX_BYTES: positiveInt(20 * 1024 * 1024, 1024 * 1024 * 1024, "Size at which the gateway rotates its log file (OpenClaw logging.maxFileBytes; it keeps 5 archives)"),
    TMP_SWEEP_INTERVAL_MS: ms(3_600_000, "Interval of the sweep of stale /tmp/openclaw* files, and of leaked capture directories in the gateway state's tmp/, while the gateway runs"),
    TMP_STALE_MS: ms(6 * 3_600_000, "Age (mtime) after which a file under /tmp/openclaw* or a leaked capture directory of the gateway state's tmp/ counts as stale"),
    DISK_WARN_FREE_PERCENT: z.coerce.number().min(0).max(100).default(10).describe("/health warns when the data directory's disk has less free space than this (percent)"),
    DISK_FAIL_FREE_PERCENT: z.coerce.number().min(0).max(100).default(2).describe("/health fails below this much free space (percent)"),
    DISK_WARN_FREE_MB: z.coerce.number().int().min(0).default(1024).describe("/health warns below this much free space (MiB)"),
    DISK_FAIL_FREE_MB: z.coerce.number().int().min(0).default(256).describe("/health fails below this much free space (MiB)"),
    DECAY_ENABLED: bool(true, "Run memory decay of the agent workspace on DECAY_SCHEDULE"),
    DECAY_SCHEDULE: z
      .string()
      .trim()
      .default("30 3 * * *")
      .refine((e) => cron.validate(e), "must be a cron expression (node-cron syntax, e.g. '30 3 * * *')")
      .describe("When memory decay runs (cron expression, read in DECAY_TIME_ZONE)"),
    DECAY_ROLLUP_AFTER_DAYS: positiveInt(7, 3650, "Daily notes memory/YYYY-MM-DD*.md older than this roll up into one memory/YYYY-Www.md per ISO week (days)"),
    DECAY_ARCHIVE_AFTER_DAYS: positiveInt(30, 36500, "Weekly roll-ups older than this move to DECAY_ARCHIVE_DIR, outside the memory search path (days)"),
    DECAY_ARCHIVE_DELETE_AFTER_DAYS: positiveInt(365, 36500, "Archives older than this go to the trash (days)"),
    DECAY_TRASH_RETENTION_DAYS: positiveInt(30, 36500, "How long removed files stay in DECAY_TRASH_DIR before they are purged (days)"),
    DECAY_ARCHIVE_DIR: z.string().trim().min(1).default("memory-archive").describe("Archive folder, relative to the workspace; must be outside memory/"),
    DECAY_TRASH_DIR: z.string().trim().min(1).default(".trash").describe("Trash folder, relative to the workspace; must be outside memory/ and the archive"),
    DECAY_TIME_ZONE: z.string().trim().min(1).default("UTC").describe("IANA time zone the daily notes are dated in (the gateway's userTimezone or the host's)"),
    MEMORY_BOOTSTRAP_MAX_CHARS: positiveInt(20_000, 10_000_000, "The gateway's bootstrap budget per file (agents.defaults.bootstrapMaxChars); /health warns when MEMORY.md is larger (characters)"),
    TMP_CLEAN: bool(true, "Remove /tmp/openclaw and /tmp/openclaw-* owned by the gateway's user before each gateway start, and the leaked openclaw-plugin-build-*/openclaw-model-catalog-* directories of the gateway state's tmp/; never the lock directories"),
    SESSION_REPAIR: z
      .enum(["compact", "reset", "off"])
      .default("compact")
      .describe(
        "How a session whose turns keep failing with a context overflow or a malformed request is repaired: compact (the gateway summarizes its transcript; reset if that does not help), reset (a fresh session under the same key; the gateway keeps the old transcript), or off (reported only). Workspace memory files are never touched",
      ),
    SESSION_REPAIR_AFTER: positiveInt(2, 100, "Failed turns in a row (context overflow or malformed request) after which a session is repaired"),
    SESSION_REPAIR_MAX: positiveInt(3, 100, "Most repairs of one session within SESSION_REPAIR_WINDOW_MS; then it is left as it is and reported"),
    SESSION_REPAIR_WINDOW_MS: ms(24 * 3_600_000, "Window of SESSION_REPAIR_MAX"),
    TMP_DIR: z.string().trim().min(1).default("/tmp").transform((p) => resolve(p)).describe("Directory swept for openclaw* leftovers"),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.OPENCLAW_NODE === undefined) !== (s.OPENCLAW_ENTRY === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [s.OPENCLAW_NODE === undefined ? "OPENCLAW_NODE" : "OPENCLAW_ENTRY"],
        message: "OPENCLAW_NODE and OPENCLAW_ENTRY must be set together",
      });
    }
    if (s.CONTROL_PLANE_URL !== undefined) {
      for (const key of ["CONTROL_PLANE_TOKEN", "RUNTIME_ID", "ACCOUNT_ID"] as const) {
        if (s[key] === undefined) ctx.addIssue({ code: "custom", path: [key], message: "is required when CONTROL_PLANE_URL is set" });
      }
      if (new URL(s.CONTROL_PLANE_URL).protocol !== "https:" && !isLoopbackUrl(s.CONTROL_PLANE_URL)) {
        ctx.addIssue({ code: "custom", path: ["CONTROL_PLANE_URL"], message: "must use https (plain http is allowed only to loopback)" });
      }
    }
    for (const problem of checkDecayPolicy(decayPolicyFrom(s))) ctx.addIssue({ code: "custom", path: ["DECAY_ARCHIVE_DIR"], message: problem });
    if (s.TURN_RETENTION_MIN_MS > s.TURN_RETENTION_MS) {
      ctx.addIssue({ code: "custom", path: ["TURN_RETENTION_MIN_MS"], message: "must not exceed TURN_RETENTION_MS" });
    }
    if (s.EVENT_LOOP_WARN_MS > s.EVENT_LOOP_STALL_MS) {
      ctx.addIssue({ code: "custom", path: ["EVENT_LOOP_WARN_MS"], message: "must not exceed EVENT_LOOP_STALL_MS" });
    }
    if (s.UPGRADE_STABLE_MS > 0 && s.UPGRADE_STABLE_MS >= s.UPGRADE_HEALTH_DEADLINE_MS) {
      ctx.addIssue({ code: "custom", path: ["UPGRADE_STABLE_MS"], message: "must be below UPGRADE_HEALTH_DEADLINE_MS (the gate's deadline includes the stability period)" });
    }
    if (s.RESTART_BACKOFF_INITIAL_MS > s.RESTART_BACKOFF_MAX_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["RESTART_BACKOFF_INITIAL_MS"],
        message: "must not exceed RESTART_BACKOFF_MAX_MS",
      });
    }
  });

/** Parsed, validated settings. */
export type Settings = z.infer<typeof settingsSchema>;

/** Every setting's env name. */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as (keyof Settings)[];

/** The memory-decay policy named by the DECAY_* settings. */
export function decayPolicyFrom(s: {
  DECAY_ROLLUP_AFTER_DAYS: number;
  DECAY_ARCHIVE_AFTER_DAYS: number;
  DECAY_ARCHIVE_DELETE_AFTER_DAYS: number;
  DECAY_TRASH_RETENTION_DAYS: number;
  DECAY_ARCHIVE_DIR: string;
  DECAY_TRASH_DIR: string;
  DECAY_TIME_ZONE: string;
}): DecayPolicy {
  return {
    rollupAfterDays: s.DECAY_ROLLUP_AFTER_DAYS,
    archiveAfterDays: s.DECAY_ARCHIVE_AFTER_DAYS,
    deleteArchiveAfterDays: s.DECAY_ARCHIVE_DELETE_AFTER_DAYS,
    trashRetentionDays: s.DECAY_TRASH_RETENTION_DAYS,
    archiveDir: s.DECAY_ARCHIVE_DIR,
    trashDir: s.DECAY_TRASH_DIR,
    timeZone: s.DECAY_TIME_ZONE,
  };
}

/** The secret values the settings hold (provider keys, the control-plane token), those set. */
export function settingsSecretValues(s: Partial<Pick<Settings, "MOONSHOT_API_KEY" | "OPENAI_API_KEY" | "OPENAI_COMPAT_API_KEY" | "CONTROL_PLANE_TOKEN">>): string[] {
  return [s.MOONSHOT_API_KEY, s.OPENAI_API_KEY, s.OPENAI_COMPAT_API_KEY, s.CONTROL_PLANE_TOKEN].filter((v): v is string => v !== undefined);
}

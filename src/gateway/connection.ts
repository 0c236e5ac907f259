/**
 * The one persistent WebSocket to the gateway, per gateway generation.
 *
 * Built on OpenClaw's reference client (`@openclaw/gateway-client`): it owns the protocol 4
 * handshake (connect.challenge → connect → hello-ok), request correlation, the two-frame
 * `expectFinal` responses of `agent`, reconnect backoff (1 s → 30 s) and the startup retry hints
 * (`UNAVAILABLE startup-sidecars` + `retryAfterMs`). This wrapper adds generations (a fresh
 * client for every gateway spawn, so backoff never carries over from a dead child), a ready
 * flag other parts can await, and a snapshot for /health.
 */
import { GatewayClient, type GatewayClientOptions } from "@openclaw/gateway-client";
import { PROTOCOL_VERSION } from "@openclaw/gateway-protocol/version";
import { connect as tcpConnect } from "node:net";
import type { Logger } from "pino";
import { SupervisorError } from "../core/errors.ts";
import { ReadyLatch } from "../core/ready-latch.ts";

/** Requests made while no hello-ok'd connection exists. */
export class NotConnectedError extends SupervisorError {
  constructor() {
    super("ERR_GATEWAY_NOT_CONNECTED", "no ready connection to the gateway");
  }
}

/** The subset of the reference client this module uses (a seam for tests). */
export type GatewayClientLike = {
  start(): void;
  stop(): void;
  request<T = unknown>(
    method: string,
    params?: unknown,
    opts?: { expectFinal?: boolean; timeoutMs?: number | null; onAccepted?: (payload: unknown) => void; signal?: AbortSignal },
  ): Promise<T>;
};

/**
 * Hears one gateway event: its name, its payload (unvalidated: read it leniently) and the
 * generation of the gateway that sent it.
 */
export type GatewayEventListener = (event: string, payload: unknown, generation: number) => void;

/** Creates a client; the default builds the reference `GatewayClient`. */
export type GatewayClientFactory = (opts: GatewayClientOptions) => GatewayClientLike;

/**
 * The gateway's own announcement before an orderly close: the `shutdown` event's `reason` and
 * `restartExpectedMs` (docs/gateway/embedding.md, "Interpret restart and shutdown"): a number
 * means an in-process restart is expected (openclaw 2026.9.6 announces 1500 ms for a config
 * change that needs a restart, and was back at hello-ok ~7 s later on 2 cores); null means a
 * terminal shutdown. `at` and `backAt` (hello-ok again, or null) are epoch ms.
 */
export type ShutdownAnnouncement = { at: number; reason: string; restartExpectedMs: number | null; backAt: number | null };

/** Connection state for /health. `since` is epoch ms. */
export type ConnectionSnapshot = {
  connected: boolean;
  since: number;
  lastError: string | null;
  serverVersion: string | null;
  /** The current generation's latest shutdown announcement, or null. */
  announced: ShutdownAnnouncement | null;
};

/**
 * Read a `shutdown` event's payload leniently. Pure.
 * @returns null when it is not an object; a missing or non-numeric `restartExpectedMs` is null
 */
export function readShutdownEvent(payload: unknown, at: number): ShutdownAnnouncement | null {
  if (payload === null || typeof payload !== "object") return null;
  const p = payload as { reason?: unknown; restartExpectedMs?: unknown };
  const ms = typeof p.restartExpectedMs === "number" && Number.isFinite(p.restartExpectedMs) && p.restartExpectedMs >= 0 ? p.restartExpectedMs : null;
  return { at, reason: typeof p.reason === "string" ? p.reason.slice(0, 200) : "unspecified", restartExpectedMs: ms, backAt: null };
}

/** Options for {@link GatewayConnection}. */
export type GatewayConnectionOptions = {
  url: string;
  token: () => string;
  clientVersion: string;
  log: Logger;
  now: () => number;
  factory?: GatewayClientFactory;
  /** hello-ok received for `generation` (also after an in-generation reconnect). */
  onReady?: (generation: number) => void;
  /** The gateway announced a shutdown or an in-process restart (a `shutdown` event). */
  onAnnouncement?: (generation: number, announcement: ShutdownAnnouncement) => void;
};

/** A persistent, generation-scoped gateway connection. */
export class GatewayConnection {
  readonly #o: GatewayConnectionOptions;
  #client: GatewayClientLike | undefined;
  #generation = 0;
  #snap: ConnectionSnapshot;
  readonly #readyLatch = new ReadyLatch();
  #portWait: AbortController | undefined;
  readonly #eventListeners = new Set<GatewayEventListener>();

  constructor(opts: GatewayConnectionOptions) {
    this.#o = opts;
    this.#snap = { connected: false, since: opts.now(), lastError: null, serverVersion: null, announced: null };
  }

  /** The generation whose gateway this connection talks to (0 before the first). */
  get generation(): number {
    return this.#generation;
  }

  /** True after hello-ok and until the socket closes. */
  get ready(): boolean {
    return this.#snap.connected;
  }

  /** Current state (a copy). */
  snapshot(): ConnectionSnapshot {
    return { ...this.#snap };
  }

  /**
   * Hear every event frame the gateway sends on the current connection (`agent`, `chat`, `task`,
   * `shutdown`, ...: docs/gateway/protocol/rpc-bootstrap-and-events.md). The connection asks for
   * no `caps`, so `agent`/`chat` events of every session arrive. A listener that throws is logged
   * and the others still hear the event.
   * @returns a function that removes the listener
   */
  onEvent(listener: GatewayEventListener): () => void {
    this.#eventListeners.add(listener);
    return () => void this.#eventListeners.delete(listener);
  }

  /**
   * Drop any previous client and connect to the gateway of `generation`. The WebSocket client is
   * started once the port accepts TCP (polled every 250 ms): the reference client's reconnect
   * backoff (1 s, 2 s, 4 s, 8 s...) would otherwise add seconds to every boot. Readiness is
   * still only hello-ok.
   */
  connect(generation: number): void {
    this.disconnect();
    this.#generation = generation;
    this.#snap.announced = null;
    const waiting = new AbortController();
    this.#portWait = waiting;
    void this.#whenPortOpen(waiting.signal)
      .then(() => {
        if (!waiting.signal.aborted && this.#generation === generation) this.#startClient(generation);
      })
      // Never an unhandled rejection: the supervisor's startup timeout restarts a gateway never connected to.
      .catch((err: unknown) => this.#o.log.error({ err, generation }, "cannot start the gateway connection"));
  }

  async #whenPortOpen(signal: AbortSignal): Promise<void> {
    const { hostname, port } = new URL(this.#o.url);
    while (!signal.aborted) {
      const open = await new Promise<boolean>((resolve) => {
        const sock = tcpConnect({ host: hostname, port: Number(port) });
        sock.once("connect", () => {
          sock.destroy();
          resolve(true);
        });
        sock.once("error", () => resolve(false));
      });
      if (open) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  #startClient(generation: number): void {
    const log = this.#o.log;
    const factory = this.#o.factory ?? ((o: GatewayClientOptions) => new GatewayClient(o));
    const client = factory({
      url: this.#o.url,
      token: this.#o.token(),
      clientName: "gateway-client",
      mode: "backend",
      clientDisplayName: "agent-supervisor",
      clientVersion: this.#o.clientVersion,
      platform: "linux",
      role: "operator",
      // operator.admin: only an admin may abort a run another connection started (openclaw 2026.9.6
      // chat-abort authorization: the owner connection or operator.admin), e.g. a run of this
      // daemon's previous connection, or a run holding a session's lane (stuck runs, issue 12).
      scopes: ["operator.read", "operator.write", "operator.admin"],
      minProtocol: PROTOCOL_VERSION,
      maxProtocol: PROTOCOL_VERSION,
      deviceIdentity: null,
      onHelloOk: (hello) => {
        if (this.#client !== client) return;
        const a = this.#snap.announced;
        if (a && a.backAt === null) {
          this.#snap.announced = { ...a, backAt: this.#o.now() };
          log.info({ generation, reason: a.reason, announcedMs: a.restartExpectedMs, tookMs: this.#o.now() - a.at }, "gateway back after its announced restart");
        }
        this.#set({ connected: true, lastError: null, serverVersion: hello.server?.version ?? null });
        log.info({ generation, serverVersion: hello.server?.version, protocol: hello.protocol }, "gateway connection ready (hello-ok)");
        this.#readyLatch.release();
        this.#o.onReady?.(generation);
      },
      onConnectError: (err) => {
        if (this.#client !== client) return;
        this.#snap.lastError = err.message;
        log.debug({ err: err.message, generation }, "gateway connect attempt failed; the client retries with backoff");
      },
      onClose: (code, reason) => {
        if (this.#client !== client) return;
        const a = this.#snap.announced;
        const announced = a && a.backAt === null ? a : null;
        if (this.#snap.connected) (announced ? log.info : log.warn).call(log, { code, reason, generation, announced }, "gateway connection closed");
        const why = announced
          ? ` (announced: ${announced.reason}${announced.restartExpectedMs === null ? ", terminal shutdown" : `, restart expected in ${announced.restartExpectedMs} ms`})`
          : "";
        this.#set({ connected: false, lastError: `closed ${code}${reason ? ` ${reason}` : ""}${why}` });
      },
      onEvent: (frame) => {
        if (this.#client !== client) return;
        if (frame.event === "shutdown") {
          const a = readShutdownEvent(frame.payload, this.#o.now());
          if (a) {
            this.#snap.announced = a;
            log.info({ generation, reason: a.reason, restartExpectedMs: a.restartExpectedMs }, "gateway announced a shutdown");
            this.#o.onAnnouncement?.(generation, a);
          }
        }
        for (const listener of this.#eventListeners) {
          try {
            listener(frame.event, frame.payload, generation);
          } catch (err) {
            log.error({ err, event: frame.event }, "a gateway event listener failed");
          }
        }
      },
    });
    this.#client = client;
    client.start();
  }

  /** Close the current client (pending requests reject). Idempotent. */
  disconnect(): void {
    this.#portWait?.abort();
    this.#portWait = undefined;
    const c = this.#client;
    this.#client = undefined;
    if (c) {
      if (this.#snap.connected) this.#set({ connected: false, lastError: "disconnected by supervisor" });
      c.stop();
    }
  }

  /**
   * Resolve when the connection is ready, or when `signal` aborts (check `ready` after).
   */
  waitReady(signal: AbortSignal): Promise<void> {
    return this.#readyLatch.wait(this.#snap.connected, signal);
  }

  /**
   * Send a request on the ready connection.
   * @throws NotConnectedError when not ready; the reference client's errors otherwise
   *   (GatewayProtocolRequestError for gateway answers, CLIENT_TIMEOUT, or a close error)
   */
  request<T>(
    method: string,
    params: unknown,
    opts?: { expectFinal?: boolean; timeoutMs?: number | null; onAccepted?: (payload: unknown) => void; signal?: AbortSignal },
  ): Promise<T> {
    if (!this.#client || !this.#snap.connected) return Promise.reject(new NotConnectedError());
    return this.#client.request<T>(method, params, opts);
  }

  #set(change: Partial<ConnectionSnapshot>): void {
    const connectedChanged = change.connected !== undefined && change.connected !== this.#snap.connected;
    this.#snap = { ...this.#snap, ...change, since: connectedChanged ? this.#o.now() : this.#snap.since };
  }
}

/**
 * An in-process fake of delivery's dependency, the gateway connection (GatewayPort): scripted
 * per method, recording every request, honouring `signal` and `timeoutMs` the way the reference
 * client does (abort rejects; a deadline rejects with GatewayClientRequestTimeoutError).
 */
import { GatewayClientRequestTimeoutError } from "@openclaw/gateway-client";
import { ReadyLatch } from "../../src/core/ready-latch.ts";
import type { GatewayPort } from "../../src/turns/delivery.ts";

type RequestOpts = Parameters<GatewayPort["request"]>[2];
export type Call = { method: string; params: Record<string, any>; opts: RequestOpts; settled: boolean };
type Handler = (params: Record<string, any>, opts: RequestOpts, call: Call) => Promise<unknown>;

/** A fake gateway connection: scripted per method, recording every request. */
export class FakeGateway implements GatewayPort {
  ready = true;
  generation = 1;
  readonly calls: Call[] = [];
  readonly handlers: Record<string, Handler> = {};
  readonly #readyLatch = new ReadyLatch();

  setReady(ready: boolean): void {
    this.ready = ready;
    if (ready) this.#readyLatch.release();
  }

  waitReady(signal: AbortSignal): Promise<void> {
    return this.#readyLatch.wait(this.ready, signal);
  }

  request<T>(method: string, params: unknown, opts?: RequestOpts): Promise<T> {
    const call: Call = { method, params: params as Record<string, any>, opts, settled: false };
    this.calls.push(call);
    const handler = this.handlers[method];
    return new Promise<T>((resolve, reject) => {
      const finish = (fn: () => void) => {
        if (call.settled) return;
        call.settled = true;
        clearTimeout(timer);
        opts?.signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => finish(() => reject(new Error("request aborted")));
      const timer =
        typeof opts?.timeoutMs === "number"
          ? setTimeout(
              () => finish(() => reject(new GatewayClientRequestTimeoutError({ method, timeoutMs: opts.timeoutMs as number, requestSent: true }))),
              opts.timeoutMs,
            )
          : undefined;
      if (opts?.signal?.aborted) return onAbort();
      opts?.signal?.addEventListener("abort", onAbort, { once: true });
      if (!handler) return finish(() => reject(new Error(`fake gateway: unexpected method ${method}`)));
      handler(call.params, opts, call).then(
        (v) => finish(() => resolve(v as T)),
        (e) => finish(() => reject(e)),
      );
    });
  }

  callsOf(method: string): Call[] {
    return this.calls.filter((c) => c.method === method);
  }
}

/** A promise with its resolve function, for handlers the test releases by hand. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const never = () => new Promise<never>(() => {});

export function okReply(text: string, runId = "run-1") {
  return { runId, status: "ok", summary: "completed", result: { payloads: [{ text }] } };
}

export function userMsg(key: string, content = "hi") {
  return { role: "user", content, idempotencyKey: `${key}:user`, __openclaw: { idempotencyKey: `${key}:user`, seq: 1 } };
}

export function assistantMsg(runId: string, text: string) {
  return { role: "assistant", content: [{ type: "text", text }], stopReason: "stop", __openclaw: { runId } };
}

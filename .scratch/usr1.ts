import { readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { GatewayClient } from "@openclaw/gateway-client";
import { makeSite, startDaemon, waitReady, killDaemon, gatewayPid, getJson } from "/work/main/test/e2e/harness.ts";
import { startMockModel } from "/work/main/src/dev/mock-model.ts";
const mock = await startMockModel(0);
const dir = mkdtempSync("/tmp/exp/u1-");
const site = await makeSite(dir, "/work/main/.cache/e2e-runtime/runtime", mock.url);
const d = startDaemon(site);
try {
  await waitReady(site);
  const token = readFileSync(join(site.dataDir, "gateway.token"), "utf8").trim();
  const t0 = Date.now();
  const client = new GatewayClient({ url: `ws://127.0.0.1:${site.gatewayPort}`, token, minProtocol: 4, maxProtocol: 4, deviceIdentity: null,
    onEvent: (e: any) => { if (e.event !== "tick" && e.event !== "health" && e.event !== "presence") console.log("EVENT", Date.now() - t0, e.event, JSON.stringify(e.payload).slice(0, 300)); },
    onHelloOk: () => console.log("HELLO", Date.now() - t0), onClose: (c: number, r: string) => console.log("CLOSE", Date.now() - t0, c, r) } as any);
  client.start();
  await new Promise((r) => setTimeout(r, 3000));
  const pid = await gatewayPid(site);
  console.log("USR1 to", pid, Date.now() - t0);
  process.kill(pid, "SIGUSR1");
  await new Promise((r) => setTimeout(r, 30000));
  console.log("PID now", await gatewayPid(site).catch((e) => e.message));
  console.log(d.logs.filter((l) => /restart|shutdown|SIGUSR1|closed|hello/i.test(l)).slice(-15).map((l) => l.slice(0, 400)).join("\n"));
  client.stop();
} finally { await killDaemon(site, d); await mock.close(); }

/**
 * Every case of the fault-injection suite, in the order the runner takes them: the fast
 * stand-in cases first, then the real-gateway ones (which share one booted daemon; the memory,
 * event-loop, probe-turn, stuck-run and bad-upgrade cases boot their own and run last).
 */
import { claimsNotReady } from "./case_claims_not_ready.ts";
import { contextOverflow } from "./case_context_overflow.ts";
import { clockSkew } from "./case_clock_skew.ts";
import { controlPlaneOutage } from "./case_control_plane.ts";
import { cpProxy404, cpUnknownFields } from "./case_cp_answers.ts";
import { daemonSigkill } from "./case_daemon_sigkill.ts";
import { announcedRestart } from "./case_announced_restart.ts";
import { badUpgrade } from "./case_bad_upgrade.ts";
import { decayKill } from "./case_decay_kill.ts";
import { diskFull } from "./case_disk_full.ts";
import { errorRate } from "./case_error_rate.ts";
import { eventLoopStall } from "./case_event_loop_stall.ts";
import { exit78 } from "./case_exit78.ts";
import { gatewaySigkill } from "./case_gateway_sigkill.ts";
import { gatewaySigstop } from "./case_gateway_sigstop.ts";
import { leaseAbort } from "./case_lease_abort.ts";
import { longTranscript } from "./case_long_transcript.ts";
import { memoryBalloon } from "./case_memory.ts";
import { neverReady } from "./case_never_ready.ts";
import { poisonedSession } from "./case_poisoned_session.ts";
import { providerAuth } from "./case_provider_auth.ts";
import { probeTurnMisses } from "./case_probe_turn.ts";
import { rotationDuringStart } from "./case_rotation_start.ts";
import { skillsUnwritable } from "./case_skills_unwritable.ts";
import { SQLITE_WRITE_CASES } from "./case_sqlite_writes.ts";
import { startupGrace } from "./case_startup_grace.ts";
import { stateTmpFlood } from "./case_state_tmp_flood.ts";
import { stuckRun } from "./case_stuck_run.ts";
import { tmpFlood } from "./case_tmp_flood.ts";
import type { FaultCase } from "./types.ts";

/** All cases, in run order. */
export const CASES: readonly FaultCase[] = [
  neverReady,
  exit78,
  tmpFlood,
  stateTmpFlood,
  diskFull,
  decayKill,
  claimsNotReady,
  gatewaySigkill,
  gatewaySigstop,
  startupGrace,
  announcedRestart,
  controlPlaneOutage,
  cpUnknownFields,
  cpProxy404,
  clockSkew,
  skillsUnwritable,
  rotationDuringStart,
  providerAuth,
  longTranscript,
  leaseAbort,
  contextOverflow,
  poisonedSession,
  ...SQLITE_WRITE_CASES,
  errorRate,
  daemonSigkill,
  memoryBalloon,
  eventLoopStall,
  probeTurnMisses,
  stuckRun,
  badUpgrade,
];

/** The cases CI runs (stand-ins only, well under a minute together). */
export const FAST_CASES: readonly FaultCase[] = CASES.filter((c) => c.fast);

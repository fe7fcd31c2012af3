/**
 * The lab's scenarios, one file each (docs/lab.md "Scenarios"). Each takes a started-empty Lab and its
 * options and returns a summary object (the JSON the lab prints last); it says what it does as it goes
 * through lab.say.
 */
import { badPeer } from "./bad-peer.ts";
import { churn } from "./churn.ts";
import { closedNetwork } from "./closed.ts";
import type { Scenario } from "./common.ts";
import { cosign } from "./cosign.ts";
import { lateJoiner } from "./late-joiner.ts";
import { lockout } from "./lockout.ts";
import { partition } from "./partition.ts";
import { propagation } from "./propagation.ts";
import { relayCheck } from "./relay.ts";
import { remoteApi } from "./remote-api.ts";
import { rewrite } from "./rewrite.ts";

export type { Scenario, ScenarioOptions, ScenarioResult } from "./common.ts";

export const scenarios: Record<string, Scenario> = {
  "bad-peer": badPeer,
  "late-joiner": lateJoiner,
  relay: relayCheck,
  propagation,
  "remote-api": remoteApi,
  partition,
  churn,
  lockout,
  closed: closedNetwork,
  rewrite,
  cosign,
};

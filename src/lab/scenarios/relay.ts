/** relay: the delay relay measured, ping-pong through it against the configured one-way delay. */
import { percentile } from "../relay.ts";
import { RELAY_BASE_PORT, round, type Scenario } from "./common.ts";

export const relayCheck: Scenario = {
  name: "relay",
  defaultNodes: 2,
  minNodes: 2,
  async run(lab, o) {
    const delays = o.delays ?? [0, 50, 100, 200];
    const jitter = o.jitter ?? 0;
    const rounds = o.blocks ?? 100;
    const [a, b] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const echo = await lab.helper(b, ["echo", b.dataIp, "9100"]);
    const relay = await lab.helper(a, [
      "relay",
      JSON.stringify({
        delayMs: 0,
        seed: 7,
        routes: [
          { listen: { host: "127.0.0.1", port: RELAY_BASE_PORT }, target: { host: b.dataIp, port: 9100 } },
        ],
      }),
    ]);
    lab.say(`ping-pong from n0 through its relay to an echo server on n1, ${rounds} round trips per delay`);
    const rows: { delayMs: number; jitterMs: number; p50: number; p99: number; min: number }[] = [];
    const problems: string[] = [];
    for (const d of delays) {
      await relay.send({ delayMs: d, jitterMs: jitter });
      const pp = await lab.helper(
        a,
        ["pingpong", "127.0.0.1", String(RELAY_BASE_PORT), String(rounds)],
        120_000,
      );
      const t = pp.ready.oneWayMs as number[];
      const row = {
        delayMs: d,
        jitterMs: jitter,
        p50: round(percentile(t, 50)),
        p99: round(percentile(t, 99)),
        min: round(Math.min(...t)),
      };
      rows.push(row);
      lab.say(
        `  configured ${d} ms (+0..${jitter}): one-way p50 ${row.p50} ms, p99 ${row.p99} ms, min ${row.min} ms`,
      );
      if (row.min < d) problems.push(`one-way ${row.min} ms is below the configured ${d} ms`);
    }
    lab.killHelper(relay);
    lab.killHelper(echo);
    return { scenario: "relay", ok: problems.length === 0, problems, rounds, rows };
  },
};

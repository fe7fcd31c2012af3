/** remote-api: from another host, changing routes without the API token are refused; with it they work. */
import { API_PORT } from "../nodes.ts";
import type { Scenario } from "./common.ts";

export const remoteApi: Scenario = {
  name: "remote-api",
  defaultNodes: 2,
  minNodes: 2,
  async run(lab) {
    const [serverHost, clientHost] = lab.hosts as [(typeof lab.hosts)[0], (typeof lab.hosts)[0]];
    const node = lab.addNode(serverHost, []);
    await node.start();
    const base = `http://${serverHost.dataIp}:${API_PORT}`;
    lab.say(`node n0 at ${base}; requests from host n1 (${clientHost.dataIp}), another namespace`);
    const ask = async (path: string, method: string, token?: string): Promise<number> => {
      const h = await lab.helper(clientHost, ["fetch", `${base}${path}`, method, ...(token ? [token] : [])]);
      return Number(h.ready.status);
    };
    const checks = {
      readWithoutToken: await ask("/api/status", "GET"),
      stopMiningWithoutToken: await ask("/api/mining/stop", "POST"),
      stopMiningWrongToken: await ask("/api/mining/stop", "POST", "0".repeat(32)),
      stopMiningWithToken: await ask("/api/mining/stop", "POST", lab.token),
      addPeerWithoutToken: await ask("/api/peers", "POST"),
    };
    const problems: string[] = [];
    if (checks.readWithoutToken !== 200) problems.push(`GET /api/status answered ${checks.readWithoutToken}`);
    for (const k of ["stopMiningWithoutToken", "stopMiningWrongToken", "addPeerWithoutToken"] as const)
      if (checks[k] !== 401 && checks[k] !== 403) problems.push(`${k} answered ${checks[k]}, not 401/403`);
    if (checks.stopMiningWithToken !== 200) problems.push(`with the token: ${checks.stopMiningWithToken}`);
    for (const [k, v] of Object.entries(checks)) lab.say(`  ${k.padEnd(24)} HTTP ${v}`);
    return { scenario: "remote-api", ok: problems.length === 0, problems, ...checks };
  },
};

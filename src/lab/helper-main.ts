/**
 * The lab's helper processes, run inside a host's namespace with `ip netns exec`:
 *   relay <json RelayOptions & {routes}>   delay line (src/lab/relay.ts)
 *   echo <host> <port>                     echo server for ping-pong
 *   pingpong <host> <port> <rounds>        prints one JSON array of one-way times in ms
 *   sockets <host> <port> <count>          opens count TCP sockets and holds them, never speaking
 *   fetch <url> <method> [token]           one HTTP request; prints {"status":…}
 *   badpeer <json {dir,targets,newIdentity}>  misbehaving peer (src/lab/bad-peer.ts); each stdin line
 *                                          gossips one invalid message and answers {"connected":n}
 * Each prints one JSON line when ready (or done) and runs until killed.
 */
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { seededRandom } from "../util/random.ts";
import { startBadPeer } from "./bad-peer.ts";
import { echoServer, pingPong, Relay, type RelayOptions, type RelayRoute } from "./relay.ts";

const [cmd, ...args] = process.argv.slice(2);
const out = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function main(): Promise<void> {
  switch (cmd) {
    case "relay": {
      const cfg = JSON.parse(args[0] ?? "{}") as RelayOptions & { routes: RelayRoute[]; seed?: number };
      const relay = new Relay({ ...cfg, random: seededRandom(cfg.seed ?? 1) });
      const ports = await relay.start(cfg.routes);
      // Each line on stdin, {"delayMs":…,"jitterMs":…}, changes the delay; each is acknowledged.
      createInterface({ input: process.stdin }).on("line", (l) => {
        const d = JSON.parse(l) as { delayMs: number; jitterMs?: number };
        relay.setDelay(d.delayMs, d.jitterMs ?? 0);
        out({ delayMs: d.delayMs, jitterMs: d.jitterMs ?? 0 });
      });
      out({ ready: true, ports });
      return;
    }
    case "echo": {
      const s = await echoServer(args[0] ?? "0.0.0.0", Number(args[1] ?? 0));
      out({ ready: true, port: s.port });
      return;
    }
    case "pingpong": {
      const times = await pingPong({ host: args[0] ?? "", port: Number(args[1]) }, Number(args[2] ?? 100));
      out({ oneWayMs: times });
      process.exit(0);
      return;
    }
    case "sockets": {
      // Holds `count` connections open, reopening any the target closes (a patient attacker).
      const count = Number(args[2] ?? 1);
      let opened = 0;
      let refused = 0;
      const open = (): Promise<void> =>
        new Promise<void>((resolve) => {
          const s: Socket = connect({ host: args[0] ?? "", port: Number(args[1]) });
          s.on("connect", () => {
            opened++;
            resolve();
          });
          s.on("error", () => undefined);
          s.on("close", () => {
            refused++;
            resolve();
            setTimeout(() => void open(), 200);
          });
        });
      await Promise.all(Array.from({ length: count }, open));
      out({ ready: true, opened, closedSoFar: refused });
      setInterval(() => out({ opened, closed: refused }), 5_000);
      return;
    }
    case "fetch": {
      const [url, method, token] = args;
      const res = await fetch(url ?? "", {
        method: method ?? "GET",
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      out({ status: res.status, body: (await res.text()).slice(0, 300) });
      process.exit(0);
      return;
    }
    case "badpeer": {
      const cfg = JSON.parse(args[0] ?? "{}") as { dir: string; targets: string[]; newIdentity: boolean };
      const bad = await startBadPeer(cfg.dir, cfg.targets, cfg.newIdentity);
      createInterface({ input: process.stdin }).on("line", () => {
        void bad.send().then((connected) => out({ connected }));
      });
      out({ ready: true, peerId: bad.peerId, dialed: bad.dialed });
      return;
    }
    default:
      throw new Error(`unknown helper command ${cmd}`);
  }
}

main().catch((err: Error) => {
  out({ error: err.message });
  process.exit(1);
});

/**
 * The lab's delay relay on loopback with real sockets: it adds at least the configured delay each way,
 * keeps a stream's bytes in order under jitter, and holds no more than its buffer bound (it pauses the
 * sender instead). The lab's `relay` scenario measures the same through namespaces (docs/lab.md).
 */
import assert from "node:assert/strict";
import { createServer, connect as tcpConnect } from "node:net";
import { describe, it } from "node:test";
import { echoServer, percentile, pingPong, Relay } from "../../src/lab/relay.ts";
import { seededRandom } from "../../src/util/random.ts";

describe("delay relay", () => {
  it("adds the configured one-way delay to each direction", async () => {
    const echo = await echoServer("127.0.0.1");
    const relay = new Relay({ delayMs: 30 });
    const [port] = await relay.start([
      { listen: { host: "127.0.0.1", port: 0 }, target: { host: "127.0.0.1", port: echo.port } },
    ]);
    const t = await pingPong({ host: "127.0.0.1", port: port! }, 20);
    await relay.stop();
    await echo.close();
    assert.ok(Math.min(...t) >= 30, `one-way min ${Math.min(...t)} ms`);
    // Generous upper bound: the machine is shared; docs/lab.md has the measured p50/p99.
    assert.ok(percentile(t, 50) < 30 + 50, `one-way p50 ${percentile(t, 50)} ms`);
  });

  it("keeps order under jitter and bounds its buffer by pausing the sender", async () => {
    const total = 8 * 1024 * 1024;
    let received = Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let got = 0;
    const sink = createServer();
    const done = new Promise<void>((resolve) => {
      sink.on("connection", (s) => {
        // A slow reader: the relay must not buffer what the sink has not taken.
        s.pause();
        const iv = setInterval(() => s.resume(), 20);
        s.on("data", (d: Buffer) => {
          chunks.push(d);
          got += d.length;
          s.pause();
          if (got >= total) {
            clearInterval(iv);
            resolve();
          }
        });
      });
      sink.listen(0, "127.0.0.1", () => void start((sink.address() as { port: number }).port));
    });
    let relay: Relay | undefined;
    const bound = 256 * 1024;
    let maxQueued = 0;
    const start = async (sinkPort: number): Promise<void> => {
      relay = new Relay({ delayMs: 5, jitterMs: 20, maxBufferedBytes: bound, random: seededRandom(3) });
      const [port] = await relay.start([
        { listen: { host: "127.0.0.1", port: 0 }, target: { host: "127.0.0.1", port: sinkPort } },
      ]);
      const src = tcpConnect({ host: "127.0.0.1", port: port! });
      const data = Buffer.alloc(total);
      for (let i = 0; i < total; i += 4) data.writeUInt32BE(i / 4, i);
      src.write(data);
      const iv = setInterval(() => {
        maxQueued = Math.max(maxQueued, relay?.queuedBytes() ?? 0);
      }, 5);
      await done;
      clearInterval(iv);
      src.destroy();
    };
    await done;
    received = Buffer.concat(chunks);
    await relay?.stop();
    await new Promise<void>((r) => sink.close(() => r()));
    assert.equal(received.length, total);
    for (let i = 0; i < total; i += 4096) assert.equal(received.readUInt32BE(i), i / 4, `byte ${i} in order`);
    // One read past the bound can land before the pause: allow one socket read (64 KiB) over it.
    assert.ok(maxQueued <= bound + 64 * 1024, `queued at most ${maxQueued} bytes`);
  });
});

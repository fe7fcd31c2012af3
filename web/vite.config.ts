import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/**
 * The explorer builds into dist/web, where every node's HTTP server looks for it. While working on it,
 * `JBC_API=http://127.0.0.1:5000 npx vite --config web/vite.config.ts` serves it with live reload and
 * sends API requests to that node.
 */
export default defineConfig({
  root: here("."),
  base: "/",
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: here("../dist/web"),
    emptyOutDir: true,
    // Hashed file names under assets/ let the server cache them forever.
    assetsDir: "assets",
    sourcemap: true,
    target: "es2022",
    rollupOptions: {
      // onLog, not onwarn: the Preact preset installs its own onwarn, which would replace ours.
      onLog(level, log, handler) {
        // zod ships comments Rollup cannot place; harmless, and not ours to fix.
        if (log.code === "INVALID_ANNOTATION" && log.message.includes("node_modules/zod")) return;
        handler(level, log);
      },
    },
  },
  server: {
    proxy: { "/api": process.env.JBC_API ?? "http://127.0.0.1:8080" },
  },
});

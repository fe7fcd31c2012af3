// Worker entry when running from TypeScript sources: worker threads do not inherit the tsx loader
// registered in the main thread, so register it here before loading the worker module.
// (Compiled builds start dist/src/mining/worker.js directly and never use this file.)
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");

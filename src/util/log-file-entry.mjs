// pino's worker entry for the log file when running from TypeScript sources: worker threads do not
// inherit the tsx loader registered in the main thread (bin/jbc.mjs), so register it here before loading
// the transport. (Compiled builds load dist/src/util/log-file.js directly and never use this file.)
import { register } from "tsx/esm/api";

register();
const transport = await import("./log-file.ts");
export default transport.default;

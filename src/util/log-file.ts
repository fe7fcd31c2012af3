/**
 * The node's log file, rotated by size (docs/operations.md "Logs"), as a pino transport target: pino runs
 * it in its worker thread (logger.ts), so the writes below are synchronous without stalling the node.
 *
 * Files are `<dir>/<name>.<n><ext>` (`node.1.log`, `node.2.log`, …), the one being written linked as
 * `<dir>/current.log`. A file never grows past `maxBytes`: a write that would cross the limit is cut at
 * the last whole line that fits, and the rest goes into the next file, so the bound holds whatever the
 * write rate (pino-roll, used before, rotated only once its write buffer had drained, which a fast writer
 * never lets happen: files of 4.4 MB against a 1 MiB limit, test/util/logger.test.ts). A single line longer
 * than a whole file is replaced by a short notice saying so. At most `keep` files remain, the current one
 * included, across restarts too: a start continues the newest file while it has room.
 */
import {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import { Writable } from "node:stream";

export interface LogFileOptions {
  /** The log's path without its number: `<dir>/node.log` writes `<dir>/node.1.log`, … */
  path: string;
  /** Largest size of one file, in bytes. */
  maxBytes: number;
  /** Files kept, the one being written included (at least 1). */
  keep: number;
}

/** The link to the file being written, in the log directory. */
export const CURRENT_LINK = "current.log";
const NEWLINE = 0x0a;

/** A size-rotated log file; `write` takes whole JSON lines (or chunks of them) and never throws. */
export class RotatingLogFile {
  private readonly dir: string;
  private readonly stem: string;
  private readonly ext: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private number = 0;
  private fd = -1;
  private size = 0;

  constructor(opts: LogFileOptions) {
    this.dir = dirname(opts.path);
    this.ext = extname(opts.path);
    this.stem = basename(opts.path, this.ext);
    this.maxBytes = Math.max(1024, Math.floor(opts.maxBytes));
    this.keep = Math.max(1, Math.floor(opts.keep));
    const numbers = this.numbers();
    this.number = numbers.at(-1) ?? 1;
    this.open("a");
    // A start does not begin a new file while the newest has room: a node restarted often must not
    // leave a file per start (and so push out the history `keep` is meant to hold).
    if (this.size >= this.maxBytes) this.rotate();
    else this.prune();
  }

  /** The file being written. */
  get current(): string {
    return this.fileName(this.number);
  }

  /** Appends `text`, rotating before any write that would take the file past its size. */
  write(text: string | Uint8Array): void {
    let buf = typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.from(text);
    while (buf.length > 0) {
      const room = this.maxBytes - this.size;
      if (buf.length <= room) {
        this.append(buf);
        return;
      }
      // The whole lines that fit go here; the rest starts the next file.
      const cut = room > 0 ? buf.lastIndexOf(NEWLINE, room - 1) + 1 : 0;
      if (cut > 0) {
        this.append(buf.subarray(0, cut));
        buf = buf.subarray(cut);
        this.rotate();
      } else if (this.size > 0) {
        this.rotate();
      } else {
        // An empty file and a first line longer than a whole file: the line cannot be kept whole.
        const end = buf.indexOf(NEWLINE);
        const length = end < 0 ? buf.length : end + 1;
        this.append(Buffer.from(`${oversizeNotice(length, this.maxBytes)}\n`));
        buf = buf.subarray(length);
      }
    }
  }

  /** Closes the file. */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private fileName(n: number): string {
    return join(this.dir, `${this.stem}.${n}${this.ext}`);
  }

  /** The numbers of this log's files in the directory, ascending. */
  private numbers(): number[] {
    const prefix = `${this.stem}.`;
    const out: number[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return out;
    }
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(this.ext)) continue;
      const middle = name.slice(prefix.length, name.length - this.ext.length);
      if (/^[1-9]\d{0,15}$/.test(middle)) out.push(Number(middle));
    }
    return out.sort((a, b) => a - b);
  }

  private open(flags: "a" | "w"): void {
    try {
      this.fd = openSync(this.current, flags, 0o644);
      this.size = fstatSync(this.fd).size;
      this.link();
    } catch {
      this.fd = -1;
      this.size = 0;
    }
  }

  private append(buf: Uint8Array): void {
    if (this.fd < 0) this.open("a"); // the disk failed earlier: try again
    if (this.fd < 0) return; // lost: a failing disk must not take the node with it
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
      this.size += buf.length;
    } catch {
      // A full or failing disk (ENOSPC, EIO) loses log lines, never the node; the size stays a safe
      // over-estimate.
      this.size += buf.length;
    }
  }

  private rotate(): void {
    this.close();
    this.number++;
    // "w": a file of that number left by someone else would otherwise be appended to, past the bound.
    this.open("w");
    this.prune();
  }

  /** Points current.log at the file being written (a new link renamed over the old one). */
  private link(): void {
    const link = join(this.dir, CURRENT_LINK);
    const target = basename(this.current);
    try {
      if (readlinkSync(link) === target) return;
    } catch {
      // No link yet, or not a link.
    }
    const tmp = `${link}.${process.pid}.tmp`;
    try {
      rmSync(tmp, { force: true });
      symlinkSync(target, tmp);
      renameSync(tmp, link);
    } catch {
      // A filesystem without symlinks: the numbered files are still there.
    }
  }

  /** Deletes this log's files older than the `keep` newest. */
  private prune(): void {
    for (const n of this.numbers()) {
      if (n > this.number - this.keep) break;
      rmSync(this.fileName(n), { force: true });
    }
  }
}

/** The JSON line (pino's shape, level warn) written in place of a line longer than a whole file. */
function oversizeNotice(length: number, maxBytes: number): string {
  return JSON.stringify({
    level: 40,
    time: Date.now(),
    msg: `a log line of ${length} bytes was dropped: longer than the log file's size (${maxBytes} bytes)`,
  });
}

/**
 * The pino transport target (pino loads this module in its worker and calls the default export with the
 * target's options): a Writable over a RotatingLogFile.
 */
export default function logFileTransport(opts: LogFileOptions): Writable {
  const file = new RotatingLogFile(opts);
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Uint8Array, _encoding, done) {
      file.write(chunk);
      done();
    },
    final(done) {
      file.close();
      done();
    },
    destroy(err, done) {
      file.close();
      done(err);
    },
  });
}

/**
 * Opens `path` for appending (a file descriptor, for a child process's stderr), first moving it to
 * `<path>.1` (replacing that) when it already holds `maxBytes` or more: the two files together stay
 * within 2 × `maxBytes` plus what one run writes.
 */
export function openAppendCapped(path: string, maxBytes: number): number {
  try {
    if (statSync(path).size >= maxBytes) renameSync(path, `${path}.1`);
  } catch {
    // No file yet.
  }
  return openSync(path, "a");
}

import { ChainError, type ChainErrorCode } from "../chain/errors.ts";
import { DecodeError } from "../consensus/bytes.ts";
import { BlockError } from "../consensus/errors.ts";
import { ApiError, type ErrorBody } from "./schemas.ts";

/** Fastify's own error codes, for the failures it detects before a handler runs. */
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, "PAYLOAD_TOO_LARGE"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, "UNSUPPORTED_MEDIA_TYPE"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, "BAD_REQUEST"],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, "MALFORMED_JSON"],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, "MALFORMED_JSON"],
  FST_ERR_BAD_URL: [400, "BAD_REQUEST"],
  FST_ERR_MAX_PARAM_LENGTH: [400, "BAD_REQUEST"],
};

/**
 * The status of a call the chain refused without judging the block (docs/protocol.md, "Blocks nobody asked
 * for"): closed or busy is the node's state (503, try later); a chain with too little work is 422 (the
 * block is not taken, though not invalid); past a share of side headers 429.
 */
const CHAIN_STATUS: Record<ChainErrorCode, number> = {
  CLOSED: 503,
  BUSY: 503,
  LOW_WORK: 422,
  SIDE_QUOTA: 429,
};

function prop(err: unknown, key: string): unknown {
  return err && typeof err === "object" && key in err ? (err as Record<string, unknown>)[key] : undefined;
}

/**
 * Maps anything thrown while serving a request to a status and the one error body. Block rule
 * violations are 422 with the rule's code; a body that does not decode as a block is 422 MALFORMED;
 * unknown failures are 500 INTERNAL and their message is not leaked.
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  const body = (code: string, message: string, details?: Record<string, unknown>): ErrorBody => ({
    error: { code, message, ...(details ? { details } : {}) },
  });
  if (err instanceof ApiError) return { status: err.status, body: body(err.code, err.message, err.details) };
  if (err instanceof BlockError) {
    return {
      status: 422,
      body: body(err.code, err.message, {
        ...err.data,
        penalty: err.penalty,
        ...(err.hash ? { hash: err.hash } : {}),
      }),
    };
  }
  if (err instanceof DecodeError)
    return { status: 422, body: body("MALFORMED", `malformed block: ${err.message}`) };
  if (err instanceof ChainError) return { status: CHAIN_STATUS[err.code], body: body(err.code, err.message) };
  const code = prop(err, "code");
  if (typeof code === "string" && FASTIFY_CODES[code]) {
    const [status, name] = FASTIFY_CODES[code];
    return { status, body: body(name, err instanceof Error ? err.message : name) };
  }
  const statusCode = prop(err, "statusCode");
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    // Fastify's JSON parser reports syntax errors as plain 400s.
    const syntax = err instanceof SyntaxError || /JSON/i.test(err instanceof Error ? err.message : "");
    return {
      status: statusCode,
      body: body(
        // 403: the explorer's file server refusing a path that leaves its directory.
        syntax ? "MALFORMED_JSON" : statusCode === 403 ? "FORBIDDEN" : "BAD_REQUEST",
        err instanceof Error ? err.message : "bad request",
      ),
    };
  }
  return { status: 500, body: body("INTERNAL", "internal error") };
}

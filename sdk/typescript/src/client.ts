/** `Countersign`: the client agents hold — request, wait (long-poll, re-issued), cancel, get, reportOutcome,
 * and `requireApproval` around any function. Uses the global `fetch`; no runtime dependencies. */
import { randomUUID } from "node:crypto";

import {
  ApprovalArgsInvalid,
  ApprovalCancelled,
  ApprovalError,
  ApprovalExpired,
  ApprovalRejected,
  ApprovalTimeout,
  CountersignAPIError,
  CountersignError,
  CountersignUnavailable,
} from "./errors.js";
import {
  type Approval, type Args, type Outcome, type RequestOptions, type Risk, finalArgs, goAhead, isPlainObject, jsonReady,
} from "./types.js";

const MAX_SERVER_WAIT_S = 55; // the server caps ?wait= at 60 s
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const MAX_OUTCOME_DETAIL = 2000;

export interface RetryPolicy {
  /** Per HTTP call, counting the first (default 10). */
  attempts?: number;
  /** First pause in ms; doubles each time (default 200). */
  baseMs?: number;
  /** Longest pause in ms (default 5000). */
  capMs?: number;
}

export interface CountersignOptions {
  /** The server's URL; `COUNTERSIGN_URL` by default. */
  url?: string;
  /** An agent key (or an approver key for `decide`/`list`); `COUNTERSIGN_API_KEY` by default. */
  apiKey?: string;
  retry?: RetryPolicy;
  connectTimeoutMs?: number;
}

interface Call {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  query?: Record<string, string>;
  readTimeoutMs?: number;
}

export type OnReject = "throw" | "return";

export interface ApprovalOptions<A extends unknown[]> {
  /** The action name approvers see; the function's name by default. */
  action?: string;
  risk?: Risk;
  why?: string;
  context?: Args;
  sql?: string;
  runId?: string;
  argsSchema?: Args;
  /** Bounds the whole wait; past it the request is cancelled and `ApprovalTimeout` thrown. */
  timeoutMs?: number;
  /** The request's expiry on the server, in seconds (the policy level's timeout otherwise). */
  timeoutS?: number;
  /** "throw" (default): `ApprovalRejected`; "return": resolve to "A human rejected <action>: <comment>". */
  onReject?: OnReject;
  /** A string, or a function of the call's arguments (e.g. returning the model's tool-call id). */
  idempotencyKey?: string | ((...args: A) => string | undefined);
  /** Names for positional arguments, so approvers see `{to, subject}` and can change each one. Without it,
   * a single plain-object argument is shown (and replaced) as is; anything else as `{args: [...]}`. */
  argNames?: string[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function buildBody(action: string, args: Args = {}, options: RequestOptions = {}): Args {
  const context: Args = { ...(options.context ?? {}) };
  if (options.why !== undefined) context.why = options.why;
  const body: Args = { action, args, context };
  if (options.risk !== undefined) body.risk = typeof options.risk === "string" ? { level: options.risk } : { ...options.risk };
  const optional: Args = {
    sql: options.sql, args_schema: options.argsSchema, run_id: options.runId, idempotency_key: options.idempotencyKey,
    requested_by: options.requestedBy, timeout_s: options.timeoutS, callback_url: options.callbackUrl,
  };
  for (const [name, value] of Object.entries(optional)) if (value !== undefined && value !== null) body[name] = value;
  return body;
}

/** Null when the call may go ahead; otherwise the error that says why it may not. */
export function outcomeError(approval: Approval): CountersignError | null {
  if (goAhead(approval)) return null;
  const decision = approval.decision;
  const comment = decision?.comment || "no comment";
  const by = decision ? (decision.by.name ?? decision.by.id) : "unknown";
  switch (approval.status) {
    case "rejected": return new ApprovalRejected(`${approval.action} rejected by ${by}: ${comment}`, approval);
    case "expired": return new ApprovalExpired(`${approval.action} expired without approval: ${comment}`, approval);
    case "cancelled": return new ApprovalCancelled(`${approval.action} was cancelled: ${comment}`, approval);
    default: return new CountersignError(`${approval.action} is still ${approval.status}`);
  }
}

/** The rejection text handed back instead of a result (to a model, as a tool result). */
export function rejectionText(action: string, error: ApprovalError): string {
  return `A human rejected ${action}: ${error.comment || "no reason given"}`;
}

export class Countersign {
  readonly url: string;
  readonly #apiKey: string; // private: never shown by console.log / util.inspect, never in an error
  readonly #retry: Required<RetryPolicy>;
  readonly #connectTimeoutMs: number;

  constructor(options: CountersignOptions = {}) {
    const env = typeof process !== "undefined" ? process.env : {};
    const url = options.url ?? env.COUNTERSIGN_URL;
    const apiKey = options.apiKey ?? env.COUNTERSIGN_API_KEY;
    if (!url) throw new CountersignError("no server URL: pass url or set COUNTERSIGN_URL");
    if (!apiKey) throw new CountersignError("no API key: pass apiKey or set COUNTERSIGN_API_KEY");
    this.url = url.replace(/\/+$/, "");
    this.#apiKey = apiKey;
    this.#retry = { attempts: 10, baseMs: 200, capMs: 5000, ...options.retry };
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  toJSON(): Args {
    return { url: this.url };
  }

  // -- one HTTP call, retried ------------------------------------------------------------------------------------
  async #send(call: Call, deadline?: number): Promise<unknown> {
    const target = new URL(this.url + call.path);
    for (const [name, value] of Object.entries(call.query ?? {})) target.searchParams.set(name, value);
    const init = (): RequestInit => ({
      method: call.method,
      headers: { Authorization: `Bearer ${this.#apiKey}`, "Content-Type": "application/json", "User-Agent": "countersign-sdk-js/0.1" },
      body: call.body === undefined ? undefined : JSON.stringify(call.body), // the same body (and key) on every retry
      signal: AbortSignal.timeout((call.readTimeoutMs ?? 30_000) + this.#connectTimeoutMs),
    });
    let last = "";
    const { attempts, baseMs, capMs } = this.#retry;
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        const response = await fetch(target, init());
        const text = await response.text();
        if (!RETRY_STATUSES.has(response.status)) {
          const body = parseJson(text);
          if (response.status >= 400) throw apiError(response.status, body, text);
          return body;
        }
        last = `HTTP ${response.status}`;
      } catch (error) {
        if (error instanceof CountersignError) throw error;
        last = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      // "Full jitter" within the exponential window, never below a tenth of it.
      const window = Math.min(capMs, baseMs * 2 ** attempt);
      const pause = window * (0.1 + 0.9 * Math.random());
      if (deadline !== undefined && Date.now() + pause >= deadline) break;
      if (attempt + 1 < attempts) await sleep(pause);
    }
    throw new CountersignUnavailable(`${call.method} ${call.path} failed: ${last}`);
  }

  // -- operations --------------------------------------------------------------------------------------------------
  /** File a request and return at once (it may already be decided by policy). */
  async request(action: string, args: Args = {}, options: RequestOptions = {}): Promise<Approval> {
    // Always send a key: a POST retried after a lost reply then finds the first request.
    const idempotencyKey = options.idempotencyKey || `sdk-${randomUUID()}`;
    const body = buildBody(action, args, { ...options, idempotencyKey });
    const approval = (await this.#send({ method: "POST", path: "/v1/approvals", body })) as Approval;
    // Never silently dropped: e.g. a timeoutS the server ignored under on_timeout: approve.
    for (const warning of approval.warnings ?? []) process.emitWarning(`${approval.id}: ${warning}`, "CountersignWarning");
    return approval;
  }

  async get(id: string): Promise<Approval> {
    return (await this.#send({ method: "GET", path: `/v1/approvals/${encodeURIComponent(id)}` })) as Approval;
  }

  /** Wait until decided (long-poll `?wait=`, re-issued); after `timeoutMs` return it as it stands (maybe pending). */
  async wait(id: string, options: { timeoutMs?: number } = {}): Promise<Approval> {
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const path = `/v1/approvals/${encodeURIComponent(id)}`;
    for (;;) {
      const remainingS = deadline === undefined ? MAX_SERVER_WAIT_S : (deadline - Date.now()) / 1000;
      // Round up: the server takes whole seconds; rounding down would spin on `?wait=0` near the deadline.
      const waitS = Math.max(0, Math.min(MAX_SERVER_WAIT_S, Math.ceil(remainingS)));
      const approval = (await this.#send(
        { method: "GET", path, query: { wait: String(waitS) }, readTimeoutMs: (waitS + 15) * 1000 }, deadline,
      )) as Approval;
      if (approval.status !== "pending" || (deadline !== undefined && Date.now() >= deadline - 50)) return approval;
    }
  }

  /** Withdraw a pending request; one decided meanwhile is returned as it stands. */
  async cancel(id: string): Promise<Approval> {
    try {
      return (await this.#send({ method: "POST", path: `/v1/approvals/${encodeURIComponent(id)}/cancel` })) as Approval;
    } catch (error) {
      if (error instanceof CountersignAPIError && error.status === 409) return this.get(id);
      throw error;
    }
  }

  /** Tell Countersign what happened when the approved call ran (`POST /v1/approvals/{id}/outcome`). */
  async reportOutcome(id: string, outcome: Outcome): Promise<unknown> {
    const body: Args = { status: outcome.status };
    if (outcome.detail !== undefined) body.detail = outcome.detail.slice(0, MAX_OUTCOME_DETAIL);
    return this.#send({ method: "POST", path: `/v1/approvals/${encodeURIComponent(id)}/outcome`, body });
  }

  /** Approve, reject or modify (needs an approver key). */
  async decide(id: string, outcome: "approve" | "reject" | "modify", options: { comment?: string; args?: Args } = {}): Promise<Approval> {
    const body: Args = { outcome };
    if (options.comment !== undefined) body.comment = options.comment;
    if (options.args !== undefined) body.args = options.args;
    return (await this.#send({ method: "POST", path: `/v1/approvals/${encodeURIComponent(id)}/decision`, body })) as Approval;
  }

  /** The queue (needs an approver key). */
  async list(options: { status?: string | null; limit?: number } = {}): Promise<Approval[]> {
    const query: Record<string, string> = { limit: String(options.limit ?? 50) };
    const status = options.status === undefined ? "pending" : options.status;
    if (status) query.status = status;
    const body = (await this.#send({ method: "GET", path: "/v1/approvals", query })) as { items?: Approval[] };
    return body.items ?? [];
  }

  /** File and wait until decided; past `timeoutMs` cancel it and throw `ApprovalTimeout`. */
  async gate(action: string, args: Args = {}, options: RequestOptions & { timeoutMs?: number } = {}): Promise<Approval> {
    let approval = await this.request(action, args, options);
    if (approval.status === "pending") approval = await this.wait(approval.id, { timeoutMs: options.timeoutMs });
    if (approval.status === "pending") {
      approval = await this.cancel(approval.id);
      if (approval.status === "cancelled") {
        throw new ApprovalTimeout(`no decision on ${approval.action} within ${options.timeoutMs} ms; request cancelled`, approval);
      }
    }
    return approval;
  }

  // -- the wrapper -------------------------------------------------------------------------------------------------
  /** Run `fn` only once a human approves the call. Modified arguments replace the originals; a rejection throws
   * `ApprovalRejected` (or, with `onReject: "return"`, resolves to the rejection text); expiry throws
   * `ApprovalExpired`. Errors thrown by `fn` itself pass through unchanged. */
  requireApproval<A extends unknown[], R>(
    fn: (...args: A) => R, options: ApprovalOptions<A> & { onReject: "return" },
  ): (...args: A) => Promise<Awaited<R> | string>;
  requireApproval<A extends unknown[], R>(fn: (...args: A) => R, options?: ApprovalOptions<A>): (...args: A) => Promise<Awaited<R>>;
  requireApproval<A extends unknown[], R>(fn: (...args: A) => R, options: ApprovalOptions<A> = {}) {
    const action = options.action || fn.name || "call";
    const onReject = options.onReject ?? "throw";
    if (onReject !== "throw" && onReject !== "return") throw new TypeError('onReject must be "throw" or "return"');
    const shape = callShape<A>(options.argNames);
    const gated = async (...callArgs: A): Promise<Awaited<R> | string> => {
      const key = typeof options.idempotencyKey === "function" ? options.idempotencyKey(...callArgs) : options.idempotencyKey;
      const approval = await this.gate(action, shape.named(callArgs), {
        why: options.why, context: options.context, risk: options.risk, sql: options.sql, runId: options.runId,
        argsSchema: options.argsSchema, idempotencyKey: key, timeoutMs: options.timeoutMs, timeoutS: options.timeoutS,
      });
      const error = outcomeError(approval);
      if (error instanceof ApprovalRejected && onReject === "return") return rejectionText(action, error);
      if (error) throw error;
      const decided = approval.decision;
      if (decided?.outcome !== "modify" || !decided.args) return await fn(...callArgs);
      return await fn(...shape.positional(finalArgs(approval), callArgs, approval, action));
    };
    Object.defineProperty(gated, "name", { value: fn.name });
    return gated;
  }
}

/** How a call's positional arguments are shown to approvers by name, and how modified ones map back. */
function callShape<A extends unknown[]>(argNames?: string[]) {
  return {
    named(callArgs: A): Args {
      if (argNames) return jsonReady(Object.fromEntries(argNames.map((name, i) => [name, callArgs[i]])));
      if (callArgs.length === 1 && isPlainObject(callArgs[0])) return jsonReady(callArgs[0]);
      return jsonReady({ args: callArgs });
    },
    positional(modified: Args, callArgs: A, approval: Approval, action: string): A {
      const invalid = (why: string) => new ApprovalArgsInvalid(`modified arguments for ${action} do not fit: ${why}`, approval);
      if (!isPlainObject(modified)) throw invalid("not an object");
      if (argNames) {
        const unknown = Object.keys(modified).filter((name) => !argNames.includes(name));
        if (unknown.length) throw invalid(`unknown argument(s) ${unknown.join(", ")}`);
        return argNames.map((name) => modified[name]) as A;
      }
      if (callArgs.length === 1 && isPlainObject(callArgs[0])) return [modified] as unknown as A;
      if (!Array.isArray(modified.args)) throw invalid("expected {args: [...]}");
      return modified.args as A;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { error: { code: "http_error", message: text.slice(0, 200) } };
  }
}

function apiError(status: number, body: unknown, text: string): CountersignAPIError {
  const error = (body as { error?: { code?: string; message?: string; fields?: Record<string, string> } } | null)?.error;
  if (error && typeof error === "object") {
    return new CountersignAPIError(status, String(error.code ?? "http_error"), String(error.message ?? `HTTP ${status}`), error.fields ?? {});
  }
  return new CountersignAPIError(status, "http_error", text.slice(0, 200) || `HTTP ${status}`);
}

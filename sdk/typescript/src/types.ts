/** The approval as the agent API returns it (fields the server adds later are kept as they come). */
export type Args = Record<string, unknown>;

export interface Actor {
  channel: string;
  id: string;
  name?: string | null;
}

export interface Decision {
  outcome: "approve" | "reject" | "modify" | string;
  by: Actor;
  at: string;
  comment?: string | null;
  args?: Args | null;
}

export type Status = "pending" | "approved" | "rejected" | "expired" | "cancelled";

export interface Approval {
  id: string;
  status: Status | string;
  action: string;
  args: Args;
  context: Args;
  agent?: string;
  run_id?: string | null;
  risk_level?: string;
  risk_reasons?: string[];
  created_at?: string;
  expires_at?: string | null;
  decision?: Decision | null;
  idempotency_key?: string | null;
  /** On the answer to a filing: what of the request the server did not honour (e.g. timeoutS under on_timeout: approve). */
  warnings?: string[];
  [field: string]: unknown;
}

/** A level name ("high") or the hints object ({ cost_usd: 250, reversible: false }). */
export type Risk = string | Args;

export interface RequestOptions {
  why?: string;
  context?: Args;
  risk?: Risk;
  sql?: string;
  argsSchema?: Args;
  runId?: string;
  idempotencyKey?: string;
  requestedBy?: string;
  /** The request's own expiry on the server, in seconds (the policy's level timeout otherwise). */
  timeoutS?: number;
  callbackUrl?: string;
}

export interface Outcome {
  status: "succeeded" | "failed";
  detail?: string;
}

/** True when the call may run: approved, or expired under a level whose on_timeout is approve. */
export function goAhead(approval: Approval): boolean {
  if (approval.status === "approved") return true;
  return approval.status === "expired" && approval.decision?.outcome === "approve";
}

/** The arguments to run with: the approver's (modify) or the ones asked for. */
export function finalArgs(approval: Approval): Args {
  return approval.decision?.args ?? approval.args;
}

export function isPlainObject(value: unknown): value is Args {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);
}

/** A JSON-ready copy (what the server will store and show); a value JSON cannot hold is shown as text. */
export function jsonReady(value: unknown): Args {
  try {
    const text = JSON.stringify(value, (_key, item) => (typeof item === "bigint" ? item.toString() : item));
    return text === undefined ? {} : (JSON.parse(text) as Args);
  } catch {
    return { value: String(value) };
  }
}

/** What the SDK throws. Approval outcomes and transport trouble are separate families; the gated function's
 * own errors are never wrapped in either. */
import type { Approval } from "./types.js";

export class CountersignError extends Error {
  override name = "CountersignError";
}

/** The server could not be reached (after the retries), or kept answering 429/5xx. */
export class CountersignUnavailable extends CountersignError {
  override name = "CountersignUnavailable";
}

/** The server refused the call (4xx): bad input, unknown key, not found, conflict. */
export class CountersignAPIError extends CountersignError {
  override name = "CountersignAPIError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

/** The call was not approved; the function did not run. */
export class ApprovalError extends CountersignError {
  override name = "ApprovalError";
  constructor(message: string, readonly approval: Approval) {
    super(message);
  }
  get comment(): string | null {
    return this.approval.decision?.comment ?? null;
  }
  get approver(): string | null {
    const by = this.approval.decision?.by;
    return by ? (by.name ?? by.id) : null;
  }
}

export class ApprovalRejected extends ApprovalError {
  override name = "ApprovalRejected";
}
/** Nobody decided in time and the level's on_timeout is reject. */
export class ApprovalExpired extends ApprovalError {
  override name = "ApprovalExpired";
}
export class ApprovalCancelled extends ApprovalError {
  override name = "ApprovalCancelled";
}
/** The caller's own `timeoutMs` passed while the request was pending (it was then cancelled). */
export class ApprovalTimeout extends ApprovalError {
  override name = "ApprovalTimeout";
}
/** The approver's modified arguments do not fit the call (not an object, or not the shape required). */
export class ApprovalArgsInvalid extends ApprovalError {
  override name = "ApprovalArgsInvalid";
}

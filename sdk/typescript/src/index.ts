/** `@countersign/sdk`: ask a human (through Countersign) before an agent's risky call runs. */
import { type ApprovalOptions, Countersign } from "./client.js";

export { Countersign, buildBody, outcomeError, rejectionText } from "./client.js";
export type { ApprovalOptions, CountersignOptions, OnReject, RetryPolicy } from "./client.js";
export * from "./errors.js";
export { SIGNATURE_HEADER, TOLERANCE_S, signatureHeader, verifySignature } from "./signature.js";
export type { VerifyOptions } from "./signature.js";
export { finalArgs, goAhead } from "./types.js";
export type { Actor, Approval, Args, Decision, Outcome, RequestOptions, Risk, Status } from "./types.js";

/** `client.requireApproval(fn, options)` with a client from `options.client` or the environment. */
export function requireApproval<A extends unknown[], R>(
  fn: (...args: A) => R, options: ApprovalOptions<A> & { client?: Countersign; onReject: "return" },
): (...args: A) => Promise<Awaited<R> | string>;
export function requireApproval<A extends unknown[], R>(
  fn: (...args: A) => R, options?: ApprovalOptions<A> & { client?: Countersign },
): (...args: A) => Promise<Awaited<R>>;
export function requireApproval<A extends unknown[], R>(
  fn: (...args: A) => R, options: ApprovalOptions<A> & { client?: Countersign } = {},
): (...args: A) => Promise<Awaited<R> | string> {
  const { client, ...rest } = options;
  return (client ?? new Countersign()).requireApproval(fn, rest);
}

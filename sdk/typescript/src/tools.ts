/** A tool call that an agent framework is about to run, gated: file it, wait, and say what to run (the input as
 * the model sent it, or the approver's) or what to tell the model instead. Shared by the framework wrappers. */
import { createHash } from "node:crypto";

import type { Countersign } from "./client.js";
import { ApprovalRejected, ApprovalTimeout } from "./errors.js";
import { outcomeError } from "./client.js";
import { type Args, type Risk, finalArgs, isPlainObject, jsonReady } from "./types.js";

export interface ToolApprovalOptions {
  /** The client; `new Countersign()` (COUNTERSIGN_URL / COUNTERSIGN_API_KEY) by default. */
  client?: Countersign;
  /** The action name approvers see (the tool's name where the framework has one). */
  action?: string;
  risk?: Risk;
  why?: string;
  context?: Args;
  /** Bounds the wait; past it the request is cancelled and the call refused. */
  timeoutMs?: number;
  /** "return" (default): a refusal is the tool's result, for the model to read; "throw": the error propagates. */
  onReject?: "return" | "throw";
}

export type ToolVerdict = { run: true; input: unknown } | { run: false; message: string };

/** The model's tool-call id plus a digest of the call: a retried call finds its request, and a reused id with
 * other input (some models and test doubles repeat ids) is filed anew. */
export function toolCallKey(action: string, args: Args, callId: string | undefined): string | undefined {
  if (!callId) return undefined;
  const digest = createHash("sha256").update(JSON.stringify([action, args])).digest("hex").slice(0, 32);
  return `tool:${callId.slice(0, 120)}:${digest}`;
}

export async function decideToolCall(
  client: Countersign, action: string, input: unknown, callId: string | undefined, options: ToolApprovalOptions,
): Promise<ToolVerdict> {
  const wrapped = !isPlainObject(input);
  const args: Args = jsonReady(wrapped ? { input } : input);
  let approval;
  try {
    approval = await client.gate(action, args, {
      why: options.why, context: options.context, risk: options.risk, timeoutMs: options.timeoutMs,
      idempotencyKey: toolCallKey(action, args, callId),
    });
  } catch (error) {
    if (options.onReject === "throw" || !(error instanceof ApprovalTimeout)) throw error;
    return { run: false, message: `${action} was not approved (no decision in time)` };
  }
  const error = outcomeError(approval);
  if (!error) {
    const decided = approval.decision?.outcome === "modify" ? finalArgs(approval) : args;
    return { run: true, input: wrapped ? decided.input : decided };
  }
  if (options.onReject === "throw") throw error;
  const comment = approval.decision?.comment;
  const message = error instanceof ApprovalRejected
    ? `A human rejected ${action}: ${comment || "no reason given"}`
    : `${action} was not approved (${approval.status}): ${comment || "no decision"}`;
  return { run: false, message };
}

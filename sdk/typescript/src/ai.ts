/** Vercel AI SDK: `withApproval(tool({...}), {action})` makes the tool's `execute` ask Countersign first.
 * Approved: it runs; modified: it runs with the approver's input; rejected/expired: the refusal is the tool's
 * result, for the model to read. `withApprovals(tools)` wraps a whole tool set, named by its keys. */
import { Countersign } from "./client.js";
import { type ToolApprovalOptions, decideToolCall } from "./tools.js";

export type { ToolApprovalOptions } from "./tools.js";

interface ExecuteOptions {
  toolCallId?: string;
  [option: string]: unknown;
}

/** The part of an AI SDK tool this wrapper needs (any `tool({...})` fits). */
export interface ExecutableTool {
  execute?: (input: any, options: any) => unknown;
}

export function withApproval<T extends ExecutableTool>(tool: T, options: ToolApprovalOptions & { action: string }): T {
  const execute = tool.execute;
  if (typeof execute !== "function") throw new TypeError("withApproval: the tool has no execute function to gate");
  const client = options.client ?? new Countersign();
  return {
    ...tool,
    execute: async (input: unknown, executeOptions: ExecuteOptions) => {
      const verdict = await decideToolCall(client, options.action, input, executeOptions?.toolCallId, options);
      if (!verdict.run) return verdict.message;
      return execute.call(tool, verdict.input, executeOptions);
    },
  };
}

/** Gate every tool in a tool set (or those named in `only`), each under its key as the action name. */
export function withApprovals<S extends Record<string, ExecutableTool>>(
  tools: S, options: ToolApprovalOptions & { only?: (keyof S)[] } = {},
): S {
  const client = options.client ?? new Countersign();
  const gated: Record<string, ExecutableTool> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const chosen = !options.only || options.only.includes(name) ? tool.execute : undefined;
    gated[name] = chosen ? withApproval(tool, { ...options, client, action: name }) : tool;
  }
  return gated as S;
}

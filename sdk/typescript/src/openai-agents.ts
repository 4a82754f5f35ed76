/** OpenAI Agents JS: `withApproval(tool({...}))` makes a function tool ask Countersign before it runs.
 * Approved: it runs; modified: it runs with the approver's arguments (checked again by the tool's own schema);
 * rejected/expired: the refusal is the tool's result, for the model to read. */
import { Countersign } from "./client.js";
import { type ToolApprovalOptions, decideToolCall } from "./tools.js";

export type { ToolApprovalOptions } from "./tools.js";

interface ToolCallDetails {
  toolCall?: { callId?: string };
  [detail: string]: unknown;
}

/** The part of an `@openai/agents` FunctionTool this wrapper needs (any `tool({...})` fits). */
export interface InvokableTool {
  name: string;
  invoke: (runContext: any, input: string, details?: any) => Promise<unknown>;
}

export function withApproval<T extends InvokableTool>(tool: T, options: ToolApprovalOptions = {}): T {
  const client = options.client ?? new Countersign();
  const action = options.action ?? tool.name;
  const invoke = tool.invoke;
  return {
    ...tool,
    invoke: async (runContext: unknown, input: string, details?: ToolCallDetails) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(input);
      } catch {
        parsed = input; // shown as sent; the tool itself refuses it if it is not valid
      }
      const verdict = await decideToolCall(client, action, parsed, details?.toolCall?.callId, options);
      if (!verdict.run) return verdict.message;
      const approvedInput = verdict.input === parsed ? input : JSON.stringify(verdict.input);
      return invoke.call(tool, runContext, approvedInput, details);
    },
  };
}

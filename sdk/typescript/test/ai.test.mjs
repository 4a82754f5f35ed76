// withApproval on a Vercel AI SDK tool, in a real generateText loop driven by the AI SDK's mock language model,
// against a real `countersign serve`: approve, modify, reject (the refusal is the tool result the model reads).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { generateText, stepCountIs, tool } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { z } from "zod";

import { withApproval, withApprovals } from "../dist/ai.js";
import { AGENT_KEY, ObservedClient, startCountersign } from "./support.mjs";

let server;
let client;
before(async () => {
  server = await startCountersign();
  client = new ObservedClient({ url: server.url, apiKey: AGENT_KEY });
});
after(async () => server?.stop());

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};
let callIds = 0;

/** A model that calls `toolName` with `input`, then answers "done" after it sees the tool result. */
function scriptedModel(toolName, input) {
  const toolCallId = `call_ai_${++callIds}`;
  return new MockLanguageModelV3({
    doGenerate: [
      { content: [{ type: "tool-call", toolCallId, toolName, input: JSON.stringify(input) }],
        finishReason: { unified: "tool-calls", raw: undefined }, usage, warnings: [] },
      { content: [{ type: "text", text: "done" }], finishReason: { unified: "stop", raw: undefined }, usage, warnings: [] },
    ],
  });
}

function refundTool(ran) {
  return tool({
    description: "Refund part or all of an order",
    inputSchema: z.object({ orderId: z.string(), amountCents: z.number().int() }),
    execute: async ({ orderId, amountCents }) => {
      ran.push({ orderId, amountCents });
      return `refunded ${amountCents} on ${orderId}`;
    },
  });
}

async function run(tools, model) {
  const result = await generateText({ model, tools, prompt: "refund it", stopWhen: stepCountIs(3) });
  const toolResults = result.steps.flatMap((step) => step.toolResults);
  return { result, outputs: toolResults.map((r) => r.output) };
}

test("approved: execute runs with the model's input", async () => {
  const ran = [];
  const tools = { issue_refund: withApproval(refundTool(ran), { client, action: "issue_refund", risk: "high" }) };
  const running = run(tools, scriptedModel("issue_refund", { orderId: "o-1", amountCents: 500 }));
  const filed = await client.nextFiled();
  assert.deepEqual(filed.args, { orderId: "o-1", amountCents: 500 });
  assert.match(filed.idempotency_key, /^tool:call_ai_\d+:/);
  assert.deepEqual(ran, []);
  await server.approver.decide(filed.id, "approve");
  const { result, outputs } = await running;
  assert.deepEqual(outputs, ["refunded 500 on o-1"]);
  assert.deepEqual(ran, [{ orderId: "o-1", amountCents: 500 }]);
  assert.equal(result.text, "done");
});

test("modified: execute runs with the approver's input", async () => {
  const ran = [];
  const tools = withApprovals({ issue_refund: refundTool(ran) }, { client });
  const running = run(tools, scriptedModel("issue_refund", { orderId: "o-2", amountCents: 900 }));
  const filed = await client.nextFiled();
  assert.equal(filed.action, "issue_refund");
  await server.approver.decide(filed.id, "modify", { comment: "half", args: { orderId: "o-2", amountCents: 450 } });
  const { outputs } = await running;
  assert.deepEqual(outputs, ["refunded 450 on o-2"]);
  assert.deepEqual(ran, [{ orderId: "o-2", amountCents: 450 }]);
});

test("rejected: the rejection is the tool result, execute never runs", async () => {
  const ran = [];
  const model = scriptedModel("issue_refund", { orderId: "o-3", amountCents: 100 });
  const tools = { issue_refund: withApproval(refundTool(ran), { client, action: "issue_refund" }) };
  const running = run(tools, model);
  await server.approver.decide((await client.nextFiled()).id, "reject", { comment: "already refunded" });
  const { result, outputs } = await running;
  assert.deepEqual(outputs, ["A human rejected issue_refund: already refunded"]);
  assert.deepEqual(ran, []);
  assert.equal(result.text, "done");
  // The model's second call saw the rejection as the tool's output.
  const sent = JSON.stringify(model.doGenerateCalls[1].prompt);
  assert.match(sent, /A human rejected issue_refund: already refunded/);
});

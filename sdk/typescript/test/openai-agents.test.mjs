// withApproval on an OpenAI Agents JS function tool, in a real Runner driven by a scripted model, against a real
// `countersign serve`: approve, modify (the tool runs with the approver's arguments), reject (the refusal is the
// tool's output).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Agent, Runner, Usage, setTracingDisabled, tool } from "@openai/agents";
import { z } from "zod";

import { withApproval } from "../dist/openai-agents.js";
import { AGENT_KEY, ObservedClient, startCountersign } from "./support.mjs";

setTracingDisabled(true);
let server;
let client;
before(async () => {
  server = await startCountersign();
  client = new ObservedClient({ url: server.url, apiKey: AGENT_KEY });
});
after(async () => server?.stop());

let callIds = 0;

/** Calls `name` with `args` on its first turn, answers "done" after; keeps what it was sent. */
class ScriptedModel {
  constructor(name, args) {
    this.turns = [[{ type: "function_call", callId: `call_oa_js_${++callIds}`, name, arguments: JSON.stringify(args), status: "completed" }]];
    this.requests = [];
  }
  async getResponse(request) {
    this.requests.push(request);
    const output = this.turns.shift() ??
      [{ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "done" }] }];
    return { usage: new Usage(), output };
  }
  async *getStreamedResponse() {
    throw new Error("not used");
  }
}

function refundAgent(model, ran) {
  const refund = tool({
    name: "issue_refund",
    description: "Refund part or all of an order",
    parameters: z.object({ orderId: z.string(), amountCents: z.number().int() }),
    execute: async ({ orderId, amountCents }) => {
      ran.push({ orderId, amountCents });
      return `refunded ${amountCents} on ${orderId}`;
    },
  });
  return new Agent({ name: "Support", instructions: "help", model, tools: [withApproval(refund, { client, risk: "high" })] });
}

function toolOutputs(model) {
  const input = model.requests.at(-1).input;
  return (Array.isArray(input) ? input : []).filter((item) => item.type === "function_call_result")
    .map((item) => (typeof item.output === "string" ? item.output : item.output?.text));
}

async function runAndDecide(args, decide) {
  const ran = [];
  const model = new ScriptedModel("issue_refund", args);
  const running = new Runner({ tracingDisabled: true }).run(refundAgent(model, ran), "refund it");
  const filed = await client.nextFiled();
  assert.equal(filed.action, "issue_refund");
  assert.deepEqual(filed.args, args);
  assert.equal(filed.risk_level, "high");
  assert.deepEqual(ran, []);
  await decide(filed.id);
  const result = await running;
  return { ran, result, outputs: toolOutputs(model) };
}

test("approved: the tool runs with the model's arguments", async () => {
  const { ran, result, outputs } = await runAndDecide({ orderId: "o-1", amountCents: 500 },
    (id) => server.approver.decide(id, "approve"));
  assert.deepEqual(ran, [{ orderId: "o-1", amountCents: 500 }]);
  assert.deepEqual(outputs, ["refunded 500 on o-1"]);
  assert.equal(result.finalOutput, "done");
});

test("modified: the tool runs with the approver's arguments", async () => {
  const { ran, outputs } = await runAndDecide({ orderId: "o-2", amountCents: 900 },
    (id) => server.approver.decide(id, "modify", { args: { orderId: "o-2", amountCents: 450 } }));
  assert.deepEqual(ran, [{ orderId: "o-2", amountCents: 450 }]);
  assert.deepEqual(outputs, ["refunded 450 on o-2"]);
});

test("rejected: the refusal is the tool's output and the tool never runs", async () => {
  const { ran, result, outputs } = await runAndDecide({ orderId: "o-3", amountCents: 100 },
    (id) => server.approver.decide(id, "reject", { comment: "already refunded" }));
  assert.deepEqual(ran, []);
  assert.deepEqual(outputs, ["A human rejected issue_refund: already refunded"]);
  assert.equal(result.finalOutput, "done");
});

// verifySignature on a callback that a real `countersign worker` delivers, and the attacks on it: replay,
// tampered body, another agent's key, malformed headers; the digest comparison is crypto.timingSafeEqual.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { createServer } from "node:http";
import { after, before, mock, test } from "node:test";

import { Countersign, SIGNATURE_HEADER, signatureHeader, verifySignature } from "../dist/index.js";
import { AGENT_KEY, startCountersign } from "./support.mjs";

let server;
let receiver;
const deliveries = [];
let delivered;

before(async () => {
  server = await startCountersign({ worker: true });
  receiver = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      deliveries.push({ header: request.headers[SIGNATURE_HEADER.toLowerCase()], body: Buffer.concat(chunks) });
      response.end("ok");
      delivered?.();
    });
  });
  await new Promise((ok) => receiver.listen(0, "127.0.0.1", ok));
});
after(async () => {
  await new Promise((ok) => receiver?.close(ok));
  await server?.stop();
});

test("a callback from the server verifies with the agent's key, and nothing else does", async () => {
  const arrived = new Promise((ok) => { delivered = ok; });
  const client = new Countersign({ url: server.url, apiKey: AGENT_KEY });
  const filed = await client.request("notify_me", { n: 1 }, { callbackUrl: `http://127.0.0.1:${receiver.address().port}/hook` });
  await server.approver.decide(filed.id, "reject", { comment: "no" });
  await arrived;
  const [{ header, body }] = deliveries;
  assert.equal(JSON.parse(body.toString()).id, filed.id);
  assert.equal(verifySignature(AGENT_KEY, header, body), true);
  assert.equal(verifySignature(AGENT_KEY, header, body.toString()), true); // the raw text works too
  assert.equal(verifySignature("another-agents-secret-0123456789", header, body), false);
  assert.equal(verifySignature(AGENT_KEY, header, Buffer.concat([body, Buffer.from(" ")])), false);
  const sentAt = Number(/t=(\d+)/.exec(header)[1]);
  assert.equal(verifySignature(AGENT_KEY, header, body, { nowS: sentAt + 301 }), false); // replayed later
  assert.equal(verifySignature(AGENT_KEY, header, body, { nowS: sentAt - 301 }), false);
});

test("an old digest under a fresh timestamp is refused", () => {
  const old = Math.floor(Date.now() / 1000) - 3600;
  const digest = signatureHeader(AGENT_KEY, "{}", old).split(",v1=")[1];
  assert.equal(verifySignature(AGENT_KEY, `t=${Math.floor(Date.now() / 1000)},v1=${digest}`, "{}"), false);
  assert.equal(verifySignature(AGENT_KEY, `t=${old},t=${Math.floor(Date.now() / 1000)},v1=${digest}`, "{}"), false);
});

test("malformed headers are refused without throwing", () => {
  const now = Math.floor(Date.now() / 1000);
  for (const header of [undefined, null, "", "garbage", "t=,v1=", "t=abc,v1=00", `v1=${"0".repeat(64)}`, `t=${now}`,
    `t=${now},v1=${"é".repeat(64)}`, `t=${"١٧٦٤٠٤٥٦٠٠"},v1=${"0".repeat(64)}`, `t=99999999999999999999,v1=${"0".repeat(64)}`,
    `t=${now},${"v1=00,".repeat(200_000)}`, 42]) {
    assert.equal(verifySignature(AGENT_KEY, header, "{}"), false, String(header).slice(0, 40));
  }
});

test("the digest is compared with crypto.timingSafeEqual, every entry", () => {
  const compare = mock.method(crypto, "timingSafeEqual");
  try {
    const now = Math.floor(Date.now() / 1000);
    const good = signatureHeader(AGENT_KEY, "{}", now).split(",v1=")[1];
    const wrong = (good[0] === "0" ? "1" : "0") + good.slice(1);
    assert.equal(verifySignature(AGENT_KEY, `t=${now},v1=${wrong},v1=${good}`, "{}", { nowS: now }), true);
    assert.equal(compare.mock.callCount(), 2);
  } finally {
    compare.mock.restore();
  }
});

/** Checking Countersign's signed callbacks: `X-Countersign-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`,
 * keyed with the agent's API key. The same rules as the Python SDK's `verify_signature`. */
// The module object (not named imports), so a test can check the comparison really is timingSafeEqual.
import crypto from "node:crypto";

export const SIGNATURE_HEADER = "X-Countersign-Signature";
export const TOLERANCE_S = 300;
const MAX_HEADER_CHARS = 1024; // a real header is ~80 characters
const TIMESTAMP = /^[0-9]{1,12}$/; // ASCII digits only
const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function signatureHeader(secret: string, body: string | Uint8Array, timestamp: number): string {
  const digest = crypto.createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
  return `t=${timestamp},v1=${digest}`;
}

export interface VerifyOptions {
  /** Seconds since the epoch; the current time by default. */
  nowS?: number;
  /** How far the header's timestamp may be from now, either way (a replay later is refused). */
  toleranceS?: number;
}

/** True only for a header made with `secret` over exactly `body` (the raw request body, before JSON parsing),
 * within `toleranceS` of now. Digests are compared in constant time; several `v1=` entries are allowed (any
 * one matching is enough, and every one is compared). Never throws on a malformed header. */
export function verifySignature(
  secret: string,
  header: string | null | undefined,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): boolean {
  if (!secret || typeof header !== "string" || !header || header.length > MAX_HEADER_CHARS) return false;
  const timestamps: string[] = [];
  const digests: string[] = [];
  for (const item of header.split(",")) {
    const at = item.indexOf("=");
    if (at < 0) continue;
    const name = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (name === "t") timestamps.push(value);
    else if (name === "v1") digests.push(value);
  }
  if (timestamps.length !== 1 || !TIMESTAMP.test(timestamps[0]!) || digests.length === 0) return false;
  const timestamp = Number(timestamps[0]);
  const now = options.nowS ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > (options.toleranceS ?? TOLERANCE_S)) return false;
  const expected = Buffer.from(signatureHeader(secret, body, timestamp).split(",v1=")[1]!, "ascii");
  let matched = false;
  for (const digest of digests) {
    const candidate = HEX_DIGEST.test(digest) ? Buffer.from(digest, "ascii") : Buffer.alloc(expected.length, 0x30);
    matched = crypto.timingSafeEqual(expected, candidate) || matched;
  }
  return matched;
}

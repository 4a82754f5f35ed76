-- SHA-256 over a Lua string, for the audit hash chain (Redis/Valkey ship LuaBitOp as `bit`).
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit, tohex = bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex
local SHA256_K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function sha256_hex(msg)
  local ml = #msg
  local bits = ml * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - ml) % 64)
    .. string.char(0, 0, 0, 0)
    .. string.char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255), band(bits, 255))
  local H = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
  local w = {}
  for i = 1, #msg, 64 do
    for j = 0, 15 do
      local b1, b2, b3, b4 = string.byte(msg, i + j * 4, i + j * 4 + 3)
      w[j] = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
    end
    for j = 16, 63 do
      local x, y = w[j - 15], w[j - 2]
      local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
      local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
      w[j] = tobit(w[j - 16] + s0 + w[j - 7] + s1)
    end
    local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
    for j = 0, 63 do
      local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = h + S1 + ch + SHA256_K[j + 1] + w[j]
      local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      h = g; g = f; f = e; e = tobit(d + t1); d = c; c = b; b = a; a = tobit(t1 + S0 + maj)
    end
    H[1] = tobit(H[1] + a); H[2] = tobit(H[2] + b); H[3] = tobit(H[3] + c); H[4] = tobit(H[4] + d)
    H[5] = tobit(H[5] + e); H[6] = tobit(H[6] + f); H[7] = tobit(H[7] + g); H[8] = tobit(H[8] + h)
  end
  local out = {}
  for i = 1, 8 do out[i] = tohex(H[i], 8) end
  return table.concat(out)
end

-- HMAC-SHA256 (RFC 2104) with a key of at most 64 bytes: H((K xor opad) .. H((K xor ipad) .. msg)).
local function hmac_pads(key)
  key = key .. string.rep("\0", 64 - #key)
  local inner, outer = {}, {}
  for i = 1, 64 do
    local b = string.byte(key, i)
    inner[i] = string.char(bxor(b, 0x36) % 256)
    outer[i] = string.char(bxor(b, 0x5c) % 256)
  end
  return table.concat(inner), table.concat(outer)
end

local function hex_to_bytes(hex)
  return (string.gsub(hex, "..", function(pair) return string.char(tonumber(pair, 16)) end))
end

local function hmac_sha256_hex(inner_pad, outer_pad, msg)
  return sha256_hex(outer_pad .. hex_to_bytes(sha256_hex(inner_pad .. msg)))
end

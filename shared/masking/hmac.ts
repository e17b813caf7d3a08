// HMAC-SHA256 for many short values under one key. node:crypto's createHmac costs ~10 µs a call
// on our machines, almost all of it object set-up; a pseudonym per cell of a 100-row result would
// then cost milliseconds. The key's inner and outer pad blocks are compressed once here, so each
// value costs its own blocks plus one, in plain JavaScript. Checked against createHmac in the tests.
import { createHash } from 'node:crypto';

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const W = new Int32Array(64);

function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    W[i] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (((W[i - 16]! + s0) | 0) + ((W[i - 7]! + s1) | 0)) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    // Pairwise `| 0` keeps every sum an int32, which V8 then never widens to a double.
    const t1 = (((((h + S1) | 0) + ((ch + K[i]!) | 0)) | 0) + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

const TAIL = new Uint8Array(128);

/** The rest of a hash after `prefixBlocks` 64-byte blocks: pads `data[0, length)` and compresses it. */
function finish(state: Int32Array, data: Uint8Array, length: number, prefixBlocks: number): void {
  const full = length - (length % 64);
  for (let off = 0; off < full; off += 64) compress(state, data, off);
  const rest = length - full;
  const end = rest < 56 ? 64 : 128;
  TAIL.fill(0, 0, end);
  TAIL.set(data.subarray(full, length));
  TAIL[rest] = 0x80;
  const bits = (prefixBlocks * 64 + length) * 8;
  TAIL[end - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  TAIL[end - 4] = (bits >>> 24) & 0xff;
  TAIL[end - 3] = (bits >>> 16) & 0xff;
  TAIL[end - 2] = (bits >>> 8) & 0xff;
  TAIL[end - 1] = bits & 0xff;
  compress(state, TAIL, 0);
  if (end === 128) compress(state, TAIL, 64);
}

function wordsToBytes(state: Int32Array, into: Uint8Array): void {
  for (let i = 0; i < 8; i++) {
    const w = state[i]!;
    into[i * 4] = w >>> 24;
    into[i * 4 + 1] = (w >>> 16) & 0xff;
    into[i * 4 + 2] = (w >>> 8) & 0xff;
    into[i * 4 + 3] = w & 0xff;
  }
}

export interface KeyedHmac {
  /** HMAC-SHA256(key, utf8(text)), 32 bytes. */
  digest(text: string): Uint8Array;
  /** The first `hexChars` hex digits of it. */
  hex(text: string, hexChars?: number): string;
}

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function keyedHmac(key: Uint8Array): KeyedHmac {
  const k = new Uint8Array(64);
  k.set(key.byteLength > 64 ? createHash('sha256').update(key).digest() : key);
  const pad = (byte: number) => {
    const block = k.map((b) => b ^ byte);
    const state = IV.slice();
    compress(state, block, 0);
    return state;
  };
  const inner = pad(0x36);
  const outer = pad(0x5c);
  let buffer = new Uint8Array(256);
  const innerDigest = new Uint8Array(32);
  const state = new Int32Array(8);

  /** Leaves HMAC(key, text) in `state`. */
  function run(text: string): void {
    if (buffer.length < text.length * 3) buffer = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, buffer);
    state.set(inner);
    finish(state, buffer, written, 1);
    wordsToBytes(state, innerDigest);
    state.set(outer);
    finish(state, innerDigest, 32, 1);
  }

  function digest(text: string): Uint8Array {
    run(text);
    const out = new Uint8Array(32);
    wordsToBytes(state, out);
    return out;
  }

  return {
    digest,
    hex(text, hexChars = 64) {
      run(text);
      let s = '';
      for (let i = 0; i * 8 < hexChars; i++) {
        const w = state[i]!;
        s += HEX[w >>> 24]! + HEX[(w >>> 16) & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[w & 0xff]!;
      }
      return s.length === hexChars ? s : s.slice(0, hexChars);
    },
  };
}

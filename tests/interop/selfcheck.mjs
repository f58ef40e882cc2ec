#!/usr/bin/env node
// Self-check of the harness itself (not needed by the C++ tests):
//
//   node selfcheck.mjs [--verbose] [ALG ...]      (default: all algorithms)
//
// For each algorithm it starts better_auth_server.mjs on a free port, obtains
// a token with get_token.mjs (sign-up, then sign-in for a second token),
// verifies the signature against /api/auth/jwks twice, independently: with
// `jose` (createLocalJWKSet + jwtVerify, checking iss/aud) and with bare
// node:crypto, then checks /test/rotate (new kid in the JWKS, new tokens use
// it, old tokens still verify) and /test/rotate?drop_old=1, the Bearer session
// path of /api/auth/token, and a clean exit 0 on SIGTERM.
// Output ends with "N passed, N failed"; exit status 1 if anything failed.

import { spawn, execFile } from "node:child_process";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader, decodeJwt } from "jose";

const here = path.dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);
const argv = process.argv.slice(2);
const verbose = argv.includes("--verbose");
const ALL = ["EdDSA", "ES256", "ES512", "RS256", "PS256"];
const algs = argv.filter((a) => !a.startsWith("--"));
const wanted = algs.length ? algs : ALL;

let passed = 0;
let failed = 0;
function check(name, cond, detail) {
  if (cond) {
    passed++;
    if (verbose) console.log(`  ok   ${name}`);
  } else {
    failed++;
    console.log(`  FAIL ${name}${detail !== undefined ? ": " + detail : ""}`);
  }
}

function startServer(alg) {
  const child = spawn(process.execPath, [path.join(here, "better_auth_server.mjs"), "--port", "0", "--alg", alg], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`server not ready in 20s: ${stderr}`)), 20000);
    rl.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(new Error(`bad ready line ${line}`));
      }
    });
    exited.then(({ code }) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  return { child, ready, exited, stderr: () => stderr };
}

async function getToken(base, email, password, name) {
  const { stdout } = await execFileP(process.execPath, [
    path.join(here, "get_token.mjs"), "--base", base, "--email", email, "--password", password, "--name", name,
  ]);
  const lines = stdout.trim().split("\n");
  if (lines.length !== 1) throw new Error(`get_token printed ${lines.length} lines`);
  return JSON.parse(lines[0]);
}

const b64u = (s) => Buffer.from(s, "base64url");

// Independent verification with node:crypto only (no jose).
function verifyWithNodeCrypto(token, jwks) {
  const [h, p, s] = token.split(".");
  const header = JSON.parse(b64u(h));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { ok: false, why: "kid not in JWKS" };
  const { kid, alg, use, ...keyFields } = jwk; // node wants the bare JWK
  const key = crypto.createPublicKey({ key: keyFields, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`);
  const sig = b64u(s);
  let ok;
  switch (header.alg) {
    case "EdDSA":
      ok = crypto.verify(null, data, key, sig);
      break;
    case "ES256":
      ok = crypto.verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig);
      break;
    case "ES512":
      ok = crypto.verify("sha512", data, { key, dsaEncoding: "ieee-p1363" }, sig);
      break;
    case "RS256":
      ok = crypto.verify("sha256", data, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, sig);
      break;
    case "PS256":
      ok = crypto.verify("sha256", data, {
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }, sig);
      break;
    default:
      return { ok: false, why: `unexpected alg ${header.alg}` };
  }
  return { ok, sigLen: sig.length };
}

async function getJwks(base) {
  const r = await fetch(`${base}/api/auth/jwks`);
  return r.json();
}

const EXPECTED = {
  EdDSA: { kty: "OKP", crv: "Ed25519", sigLen: 64 },
  ES256: { kty: "EC", crv: "P-256", sigLen: 64 },
  ES512: { kty: "EC", crv: "P-521", sigLen: 132 },
  RS256: { kty: "RSA", crv: undefined, sigLen: 256 },
  PS256: { kty: "RSA", crv: undefined, sigLen: 256 },
};

async function runAlg(alg) {
  console.log(`== ${alg}`);
  const srv = startServer(alg);
  try {
    const ready = await srv.ready;
    check(`${alg} ready line`, ready.ready === true && ready.alg === alg && ready.port > 0, JSON.stringify(ready));
    const base = `http://127.0.0.1:${ready.port}`;

    const t1 = await getToken(base, "alice@example.com", "pw12345678", "Alice");
    const header = decodeProtectedHeader(t1.token);
    const claims = decodeJwt(t1.token);
    const jwks = await getJwks(base);
    console.log(`  header:  ${JSON.stringify(header)}`);
    console.log(`  claims:  ${JSON.stringify(claims)}`);
    console.log(`  exp-iat: ${claims.exp - claims.iat}`);
    console.log(`  jwks:    ${JSON.stringify(jwks)}`);

    check(`${alg} header alg`, header.alg === alg, header.alg);
    check(`${alg} header has kid`, typeof header.kid === "string" && header.kid.length > 0);
    check(`${alg} sub == user_id`, claims.sub === t1.user_id, `${claims.sub} vs ${t1.user_id}`);
    check(`${alg} iss`, claims.iss === base, claims.iss);
    check(`${alg} aud`, claims.aud === base, claims.aud);
    check(`${alg} lifetime 900s`, claims.exp - claims.iat === 900, claims.exp - claims.iat);
    check(`${alg} one JWK`, jwks.keys.length === 1, jwks.keys.length);
    const jwk = jwks.keys[0];
    check(`${alg} JWK kid == token kid`, jwk.kid === header.kid);
    check(`${alg} JWK alg`, jwk.alg === alg, jwk.alg);
    check(`${alg} JWK kty`, jwk.kty === EXPECTED[alg].kty, jwk.kty);
    check(`${alg} JWK crv`, jwk.crv === EXPECTED[alg].crv, jwk.crv);
    check(`${alg} JWK has no private part`, !("d" in jwk) && !("p" in jwk));

    const JWKS = createLocalJWKSet(jwks);
    const v = await jwtVerify(t1.token, JWKS, { issuer: base, audience: base, algorithms: [alg] });
    check(`${alg} jose verify`, v.payload.sub === t1.user_id);
    const n = verifyWithNodeCrypto(t1.token, jwks);
    check(`${alg} node:crypto verify`, n.ok, n.why);
    check(`${alg} signature length`, n.sigLen === EXPECTED[alg].sigLen, n.sigLen);
    const tampered = t1.token.slice(0, -4) + (t1.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    check(`${alg} tampered token rejected`, !verifyWithNodeCrypto(tampered, jwks).ok);

    // Second call for the same user goes through sign-in.
    const t2 = await getToken(base, "alice@example.com", "pw12345678", "Alice");
    check(`${alg} sign-in path same user`, t2.user_id === t1.user_id);

    // Bearer session token (bearer plugin) instead of the cookie.
    const si = await fetch(`${base}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: base },
      body: JSON.stringify({ email: "alice@example.com", password: "pw12345678" }),
    });
    const sessionToken = si.headers.get("set-auth-token");
    check(`${alg} set-auth-token header on sign-in`, !!sessionToken);
    const tb = await fetch(`${base}/api/auth/token`, { headers: { authorization: `Bearer ${sessionToken}` } });
    const tbj = await tb.json();
    check(`${alg} /token with Bearer session`, tb.ok && decodeJwt(tbj.token).sub === t1.user_id, JSON.stringify(tbj));
    const tn = await fetch(`${base}/api/auth/token`);
    check(`${alg} /token without session is 401`, tn.status === 401, tn.status);

    // Rotation keeping the old key published.
    const rot = await (await fetch(`${base}/test/rotate`, { method: "POST" })).json();
    console.log(`  rotate:  ${JSON.stringify(rot)}`);
    const jwks2 = await getJwks(base);
    const kids2 = jwks2.keys.map((k) => k.kid);
    check(`${alg} rotate: new kid`, rot.kid && rot.kid !== header.kid);
    check(`${alg} rotate: JWKS has old+new`, kids2.length === 2 && kids2.includes(rot.kid) && kids2.includes(header.kid), kids2);
    const t3 = await getToken(base, "alice@example.com", "pw12345678", "Alice");
    check(`${alg} rotate: new token uses new kid`, decodeProtectedHeader(t3.token).kid === rot.kid);
    check(`${alg} rotate: new token verifies (jose)`, !!(await jwtVerify(t3.token, createLocalJWKSet(jwks2), { issuer: base, audience: base })));
    check(`${alg} rotate: new token verifies (node)`, verifyWithNodeCrypto(t3.token, jwks2).ok);
    check(`${alg} rotate: old token still verifies`, verifyWithNodeCrypto(t1.token, jwks2).ok);

    // Rotation dropping old keys.
    const rot2 = await (await fetch(`${base}/test/rotate?drop_old=1`, { method: "POST" })).json();
    const jwks3 = await getJwks(base);
    check(`${alg} rotate drop_old: only new key`, jwks3.keys.length === 1 && jwks3.keys[0].kid === rot2.kid, JSON.stringify(jwks3.keys.map((k) => k.kid)));
    check(`${alg} rotate drop_old: old kid gone`, !verifyWithNodeCrypto(t3.token, jwks3).ok);
    const t4 = await getToken(base, "bob@example.com", "pw12345678", "Bob");
    check(`${alg} rotate drop_old: new token kid`, decodeProtectedHeader(t4.token).kid === rot2.kid);
    check(`${alg} rotate drop_old: new token verifies`, verifyWithNodeCrypto(t4.token, jwks3).ok);
    check(`${alg} second user distinct id`, t4.user_id !== t1.user_id);
  } catch (err) {
    check(`${alg} no exception`, false, err?.stack || err);
  } finally {
    srv.child.kill("SIGTERM");
    const { code, signal } = await srv.exited;
    check(`${alg} SIGTERM exit 0`, code === 0, `code=${code} signal=${signal}`);
    if (verbose && srv.stderr()) console.log(`  server stderr:\n${srv.stderr()}`);
  }
}

for (const alg of wanted) await runAlg(alg);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

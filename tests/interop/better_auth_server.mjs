#!/usr/bin/env node
// Test-only harness: runs REAL Better Auth (npm `better-auth`, pinned in
// package.json) with its `jwt` plugin on 127.0.0.1 so that tests in other
// languages (the C++ tests) can obtain genuine Better Auth JWTs and JWKS.
//
//   node better_auth_server.mjs --port P [--alg EdDSA|ES256|ES512|RS256|PS256]
//
// When ready, prints exactly one line to stdout:
//   {"ready":true,"port":P,"alg":"EdDSA"}
// and runs until SIGTERM/SIGINT (then exits 0). --port 0 picks a free port and
// the line carries the real one. Everything else (Better Auth's own logs,
// errors) goes to stderr so stdout stays machine-readable.
//
// Routes (all from Better Auth itself, basePath /api/auth):
//   POST /api/auth/sign-up/email   {"email","password","name"}
//   POST /api/auth/sign-in/email   {"email","password"}
//   GET  /api/auth/token           -> {"token":"<JWT>"}   (session cookie
//                                     `better-auth.session_token`, or
//                                     `Authorization: Bearer <session token>`
//                                     thanks to the bearer plugin)
//   GET  /api/auth/jwks            -> {"keys":[...]}
// plus one test-only route handled BEFORE Better Auth:
//   POST /test/rotate[?drop_old=1] -> {"kid":"<new kid>","previous":[...],"dropped":bool}
//
// Nothing here is persistent: the database is an in-memory object that dies
// with the process.

import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt, bearer } from "better-auth/plugins";
import { createJwk } from "better-auth/plugins/jwt";
import { toNodeHandler } from "better-auth/node";

const ALGS = {
  // keyPairConfig objects as accepted by the jwt plugin (JWKOptions in
  // node_modules/better-auth/dist/plugins/jwt/types.d.mts). They are passed
  // to jose's generateKeyPair.
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  ES512: { alg: "ES512" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};

function usage(msg) {
  if (msg) process.stderr.write(`error: ${msg}\n`);
  process.stderr.write(
    "usage: node better_auth_server.mjs --port P [--alg " +
      Object.keys(ALGS).join("|") +
      "]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const out = { port: undefined, alg: "EdDSA" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const key = eq > 0 ? a.slice(0, eq) : a;
    const val = () => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    if (key === "--port") out.port = val();
    else if (key === "--alg") out.alg = val();
    else if (key === "-h" || key === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (out.port === undefined) usage("--port is required");
  const port = Number(out.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${out.port}`);
  if (!Object.hasOwn(ALGS, out.alg)) usage(`unsupported --alg ${out.alg}`);
  return { port, alg: out.alg };
}

const { port: requestedPort, alg } = parseArgs(process.argv.slice(2));

const SECRET =
  process.env.BETTER_AUTH_SECRET ||
  "interop-test-secret-not-for-production-0123456789abcdef";

// The memory adapter needs every table (model) to exist up front.
const db = { user: [], session: [], account: [], verification: [], jwks: [] };

const jwtOptions = { jwks: { keyPairConfig: ALGS[alg] } };

// Log to stderr only: stdout carries just the ready line.
const logger = {
  level: process.env.BETTER_AUTH_LOG_LEVEL || "warn",
  log: (level, message, ...args) => {
    const rest = args.length
      ? " " + args.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" ")
      : "";
    process.stderr.write(`[better-auth ${level}] ${message}${rest}\n`);
  },
};

const server = http.createServer();

let auth;
let authHandler;

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

// POST /test/rotate — force a new signing key.
//
// How the jwt plugin stores keys: one row per key in the `jwks` model, i.e.
// `db.jwks` of our memory adapter, with fields {id, publicKey (JSON JWK),
// privateKey (JSON JWK, encrypted with the auth secret), createdAt, expiresAt?,
// alg, crv?}. The row id is the JWK `kid`. For signing the plugin picks the
// newest (createdAt) row of the configured alg whose expiresAt is unset or in
// the future; for /jwks it lists every row whose expiresAt + gracePeriod
// (30 days by default) is still ahead.
//
// So rotation = (1) call the plugin's own exported `createJwk(ctx, options)`
// with the live AuthContext (it generates the pair with jose, encrypts the
// private half and inserts the row through the adapter), then (2) set
// `expiresAt = now` on every older row so it is no longer used for signing
// (even if two keys share a createdAt millisecond) but still published in the
// JWKS, as after a real rotation. With ?drop_old=1 the older rows are deleted
// instead, so they vanish from the JWKS (tokens signed with them then carry a
// kid that the JWKS no longer has).
async function rotate(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  const dropOld = ["1", "true", "yes"].includes(url.searchParams.get("drop_old") || "");
  const ctx = await auth.$context;
  const adapter = ctx.adapter;
  const before = await adapter.findMany({ model: "jwks" });
  const created = await createJwk({ context: ctx }, jwtOptions);
  const now = new Date();
  for (const row of before) {
    if (dropOld) {
      await adapter.delete({ model: "jwks", where: [{ field: "id", value: row.id }] });
    } else if (!row.expiresAt || row.expiresAt > now) {
      await adapter.update({
        model: "jwks",
        where: [{ field: "id", value: row.id }],
        update: { expiresAt: now },
      });
    }
  }
  sendJson(res, 200, {
    kid: created.id,
    alg: created.alg,
    previous: before.map((r) => r.id),
    dropped: dropOld,
  });
}

server.on("request", (req, res) => {
  const path = (req.url || "/").split("?")[0];
  if (path === "/test/rotate") {
    if (req.method !== "POST") return sendJson(res, 405, { error: "use POST" });
    req.resume(); // ignore any body
    rotate(req, res).catch((err) => {
      process.stderr.write(`rotate failed: ${err?.stack || err}\n`);
      sendJson(res, 500, { error: String(err?.message || err) });
    });
    return;
  }
  if (!authHandler) return sendJson(res, 503, { error: "starting" });
  authHandler(req, res);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

server.on("error", (err) => {
  process.stderr.write(`server error: ${err?.stack || err}\n`);
  process.exit(1);
});

server.listen(requestedPort, "127.0.0.1", async () => {
  const port = server.address().port;
  // baseURL needs the real port, so Better Auth is built after listen();
  // requests arriving before this finishes are impossible in practice because
  // nobody knows the port until the ready line below.
  auth = betterAuth({
    baseURL: `http://127.0.0.1:${port}`,
    secret: SECRET,
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true, requireEmailVerification: false },
    plugins: [jwt(jwtOptions), bearer()],
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger,
  });
  authHandler = toNodeHandler(auth);
  await auth.$context; // finish async init before announcing readiness
  process.stdout.write(JSON.stringify({ ready: true, port, alg }) + "\n");
});

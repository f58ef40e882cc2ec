#!/usr/bin/env node
// Test-only client for better_auth_server.mjs (or any Better Auth server with
// emailAndPassword + the jwt plugin).
//
//   node get_token.mjs --base http://127.0.0.1:P --email a@example.com \
//       --password pw12345678 [--name Alice]
//
// Signs the user up (or, if the email is already registered, signs in), then
// GETs /api/auth/token with the session cookie and prints one JSON line:
//   {"token":"<JWT>","user_id":"<Better Auth user id = JWT sub>"}
// Exit status 0 on success; on failure a message on stderr and exit 1.
// Uses only Node's global fetch (Node >= 20).

function usage(msg) {
  if (msg) process.stderr.write(`error: ${msg}\n`);
  process.stderr.write(
    "usage: node get_token.mjs --base URL --email EMAIL --password PW [--name NAME]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const key = eq > 0 ? a.slice(0, eq) : a;
    const val = () => {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) usage(`missing value for ${key}`);
      return v;
    };
    if (key === "--base") out.base = val();
    else if (key === "--email") out.email = val();
    else if (key === "--password") out.password = val();
    else if (key === "--name") out.name = val();
    else if (key === "-h" || key === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  for (const k of ["base", "email", "password"]) if (!out[k]) usage(`--${k} is required`);
  out.base = out.base.replace(/\/+$/, "");
  if (!out.name) out.name = out.email.split("@")[0];
  return out;
}

const args = parseArgs(process.argv.slice(2));
const origin = new URL(args.base).origin;
const authBase = `${args.base}/api/auth`;

// Better Auth checks the Origin of state-changing requests against its
// trusted origins (baseURL is trusted), so send Origin: base.
async function postJson(path, body) {
  const res = await fetch(`${authBase}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify(body),
    redirect: "manual",
  });
  let json = null;
  const text = await res.text();
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { res, json, text };
}

// Returns "name=value; name2=value2" for the cookies set by a response.
function cookieHeader(res) {
  const setCookies = res.headers.getSetCookie?.() ?? [];
  return setCookies
    .map((c) => c.split(";")[0].trim())
    .filter((c) => c && !/=$/.test(c)) // skip cookies being cleared
    .join("; ");
}

function fail(msg) {
  process.stderr.write(`get_token: ${msg}\n`);
  process.exit(1);
}

async function main() {
  let r = await postJson("/sign-up/email", {
    email: args.email,
    password: args.password,
    name: args.name,
  });
  let how = "sign-up";
  if (!r.res.ok) {
    // Typically 422 USER_ALREADY_EXISTS(_USE_ANOTHER_EMAIL): sign in instead.
    const signUpErr = `${r.res.status} ${r.text}`;
    r = await postJson("/sign-in/email", { email: args.email, password: args.password });
    how = "sign-in";
    if (!r.res.ok) fail(`sign-up failed (${signUpErr}); sign-in failed (${r.res.status} ${r.text})`);
  }
  const cookies = cookieHeader(r.res);
  if (!/better-auth\.session_token=/.test(cookies)) {
    fail(`${how} response set no better-auth.session_token cookie (got: ${cookies || "none"})`);
  }
  const userId = r.json?.user?.id;
  if (!userId) fail(`${how} response carries no user.id: ${r.text}`);

  const tr = await fetch(`${authBase}/token`, { headers: { cookie: cookies, origin } });
  const ttext = await tr.text();
  if (!tr.ok) fail(`GET /api/auth/token failed: ${tr.status} ${ttext}`);
  let token;
  try {
    token = JSON.parse(ttext).token;
  } catch {
    /* handled below */
  }
  if (typeof token !== "string" || token.split(".").length !== 3) {
    fail(`GET /api/auth/token returned no JWT: ${ttext}`);
  }
  process.stdout.write(JSON.stringify({ token, user_id: userId }) + "\n");
}

main().catch((err) => fail(err?.stack || String(err)));

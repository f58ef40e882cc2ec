#!/usr/bin/env python3
"""Makes the benchmark's users, tokens and tasks (bench/run.sh calls it).

  prepare.py keys DIR                 an Ed25519 key (DIR/ed25519.pem) and DIR/jwks.json
  prepare.py tokens DIR USERS SECRET  DIR/tokens-hs.txt and DIR/tokens-eddsa.txt,
                                      one token per user (sub bench-user-N), valid 2 h
  prepare.py seed DIR PORT TASKS      TASKS tasks per user through the API;
                                      DIR/ids.txt: each user's task ids, one line per user
  prepare.py trim DIR PORT            deletes every task not in DIR/ids.txt (what create
                                      and mixed runs added), so each run sees 50 tasks a user

Only the Python standard library and the openssl command line tool.
"""
import base64, hashlib, hmac, http.client, json, os, subprocess, sys, time


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keys(d):
    pem = os.path.join(d, "ed25519.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", pem], check=True)
    der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(der[-32:]), "kid": "bench-1", "alg": "EdDSA"}
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump({"keys": [jwk]}, f)


def tokens(d, users, secret):
    now = int(time.time())
    pem = os.path.join(d, "ed25519.pem")
    with open(os.path.join(d, "tokens-hs.txt"), "w") as hs, open(os.path.join(d, "tokens-eddsa.txt"), "w") as ed:
        for i in range(users):
            claims = b64url(json.dumps({"sub": f"bench-user-{i}", "iat": now, "exp": now + 7200}).encode())
            head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
            signing = f"{head}.{claims}".encode()
            sig = hmac.new(secret.encode(), signing, hashlib.sha256).digest()
            hs.write(f"{head}.{claims}.{b64url(sig)}\n")
            head = b64url(json.dumps({"alg": "EdDSA", "kid": "bench-1"}).encode())
            signing = f"{head}.{claims}".encode()
            msg = os.path.join(d, "signing-input")
            with open(msg, "wb") as m:  # EdDSA is one-shot: openssl wants a file, not a pipe
                m.write(signing)
            sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", pem, "-rawin", "-in", msg],
                                 check=True, capture_output=True).stdout
            ed.write(f"{head}.{claims}.{b64url(sig)}\n")


def seed(d, port, per_user):
    with open(os.path.join(d, "tokens-hs.txt")) as f:
        toks = f.read().split()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lines = []
    for n, tok in enumerate(toks):
        ids = []
        for i in range(per_user):
            body = json.dumps({"title": f"bench task {i} of user {n}",
                               "description": "seeded by bench/prepare.py so listings have realistic rows",
                               "priority": ["low", "medium", "high"][i % 3],
                               "tags": ["bench", f"t{i % 5}"]})
            conn.request("POST", "/api/tasks", body,
                         {"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 201:
                sys.exit(f"seed: POST answered {r.status}: {data[:200]!r}")
            ids.append(json.loads(data)["id"])
        lines.append(" ".join(ids))
    with open(os.path.join(d, "ids.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def trim(d, port):
    with open(os.path.join(d, "tokens-hs.txt")) as f:
        toks = f.read().split()
    with open(os.path.join(d, "ids.txt")) as f:
        keep = [set(line.split()) for line in f]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    removed = 0
    for tok, seeded in zip(toks, keep):
        auth = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
        conn.request("GET", "/api/tasks", headers=auth)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit(f"trim: GET answered {r.status}")
        extra = [t["id"] for t in json.loads(data)["tasks"] if t["id"] not in seeded]
        for i in range(0, len(extra), 1000):
            conn.request("POST", "/api/tasks/bulk/delete", json.dumps({"ids": extra[i:i + 1000]}), auth)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                sys.exit(f"trim: bulk delete answered {r.status}")
        removed += len(extra)
    print(f"trimmed {removed} tasks", file=sys.stderr)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "keys":
        keys(sys.argv[2])
    elif cmd == "tokens":
        tokens(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "seed":
        seed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "trim":
        trim(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)

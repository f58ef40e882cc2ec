// Interop with the real thing: Better Auth (npm better-auth, its jwt plugin,
// run by better_auth_server.mjs) issues tokens for users it signed up; the
// todo-server executable, pointed at Better Auth's /api/auth/jwks, serves
// those users. EdDSA (Better Auth's default), ES256, ES512, RS256 and PS256,
// plus key rotation.

#include <catch2/catch.hpp>

#include <cstdlib>

#include "http/process.hpp"
#include "http/test_server.hpp"

using nlohmann::json;
using test::Client;
using test::Process;
using test::Reply;
using test::TempDir;

namespace {

std::vector<std::string> node_env() {
  std::vector<std::string> env{"PATH=/usr/local/bin:/usr/bin:/bin"};
  for (const char* name : {"HOME", "NODE_EXTRA_CA_CERTS"})
    if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
  return env;
}

// Waits for the JSON line a node script prints on stdout and parses it.
json first_stdout_line(Process& p) {
  for (int i = 0; i < 3000; ++i) {
    const std::string out = p.out();
    if (const auto nl = out.find('\n'); nl != std::string::npos) return json::parse(out.substr(0, nl));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("no output from node: " << p.err());
  return {};
}

// Real Better Auth on a free loopback port.
class BetterAuth {
 public:
  BetterAuth(const TempDir& dir, const std::string& alg)
      : process_(dir.path, {INTEROP_DIR "/better_auth_server.mjs", "--port", "0", "--alg", alg}, node_env(),
                 NODE_EXECUTABLE) {
    const json ready = first_stdout_line(process_);
    REQUIRE(ready["ready"] == true);
    base_ = "http://127.0.0.1:" + std::to_string(ready["port"].get<int>());
  }
  [[nodiscard]] const std::string& base() const { return base_; }

  struct Session {
    std::string token;
    std::string user_id;
  };
  // Signs a user up through Better Auth's HTTP API and takes their JWT from /api/auth/token.
  Session token_for(const TempDir& dir, const std::string& email) {
    Process p(dir.path,
              {INTEROP_DIR "/get_token.mjs", "--base", base_, "--email", email, "--password", "pw-12345678",
               "--name", "Interop User"},
              node_env(), NODE_EXECUTABLE);
    REQUIRE(p.wait(std::chrono::seconds(30)) == 0);
    const json j = first_stdout_line(p);
    return {j["token"], j["user_id"]};
  }

  void rotate(bool drop_old) {
    httplib::Client c(base_);
    const auto r = c.Post(drop_old ? "/test/rotate?drop_old=1" : "/test/rotate", "", "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }

 private:
  Process process_;
  std::string base_;
};

json header_of(const std::string& token) {
  return json::parse(*libtodo::base64url_decode(token.substr(0, token.find('.'))));
}

// todo-server trusting only Better Auth's JWKS (no shared secret at all).
Process start_todo_server(const TempDir& dir, const BetterAuth& auth, const std::string& min_refresh = "30") {
  return Process(dir.path, {"--port", "0"},
                 {"DATABASE_URL=sqlite::memory:", "JWKS_URL=" + auth.base() + "/api/auth/jwks",
                  "JWT_ISSUER=" + auth.base(), "JWT_AUDIENCE=" + auth.base(), "JWKS_MIN_REFRESH=" + min_refresh,
                  "LOG_LEVEL=debug"});
}

}  // namespace

TEST_CASE("real Better Auth tokens work against todo-server", "[interop]") {
  const std::string alg = GENERATE(as<std::string>{}, "EdDSA", "ES256", "ES512", "RS256", "PS256");
  INFO("alg " << alg);
  TempDir dir;
  BetterAuth auth(dir, alg);
  const auto ada = auth.token_for(dir, "ada-" + alg + "@example.com");
  const auto bob = auth.token_for(dir, "bob-" + alg + "@example.com");
  REQUIRE(header_of(ada.token)["alg"] == alg);
  REQUIRE(ada.user_id.size() == 32);  // Better Auth ids are not UUIDs

  Process server = start_todo_server(dir, auth);
  Client c(server.port());

  const Reply created = c.as(ada.token, "POST", "/api/tasks", R"({"title":"from Better Auth","priority":"high"})");
  INFO(created.body << server.err());
  REQUIRE(created.status == 201);
  REQUIRE(created.json()["user_id"] == ada.user_id);
  const std::string id = created.json()["id"];

  REQUIRE(c.as(ada.token, "GET", "/api/" + ada.user_id + "/tasks").json()["tasks"].size() == 1);
  const Reply patched = c.as(ada.token, "PATCH", "/api/tasks/" + id, R"({"completed":true})");
  REQUIRE(patched.status == 200);
  REQUIRE(patched.json()["status"] == "completed");

  // Bob, another real user, sees and touches nothing of Ada's.
  REQUIRE(c.as(bob.token, "GET", "/api/tasks").json()["tasks"].empty());
  REQUIRE(c.as(bob.token, "DELETE", "/api/tasks/" + id).status == 403);
  REQUIRE(c.as(bob.token, "GET", "/api/" + ada.user_id + "/tasks").status == 403);

  // A forged variant of a real token is refused.
  std::string forged = ada.token;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  REQUIRE(c.as(forged, "GET", "/api/tasks").status == 401);

  REQUIRE(c.as(ada.token, "DELETE", "/api/tasks/" + id).status == 200);
  REQUIRE(c.as(ada.token, "GET", "/api/tasks").json()["tasks"].empty());
}

TEST_CASE("Better Auth key rotation: new keys are fetched, dropped keys stop working", "[interop]") {
  TempDir dir;
  BetterAuth auth(dir, "EdDSA");
  const auto before = auth.token_for(dir, "rot@example.com");
  Process server = start_todo_server(dir, auth, "0");
  Client c(server.port());
  REQUIRE(c.as(before.token, "GET", "/api/tasks").status == 200);

  // A new signing key: tokens with its kid are accepted after the refetch their kid triggers.
  auth.rotate(false);
  const auto rotated = auth.token_for(dir, "rot@example.com");
  REQUIRE(header_of(rotated.token)["kid"] != header_of(before.token)["kid"]);
  REQUIRE(c.as(rotated.token, "GET", "/api/tasks").status == 200);
  REQUIRE(c.as(before.token, "GET", "/api/tasks").status == 200);  // the old key is still published

  // The old keys are removed from the JWKS: once the server refetches, their tokens are refused
  // even though they were verified (and cached) before.
  auth.rotate(true);
  const auto latest = auth.token_for(dir, "rot@example.com");
  REQUIRE(c.as(latest.token, "GET", "/api/tasks").status == 200);  // unknown kid -> refetch
  REQUIRE(c.as(before.token, "GET", "/api/tasks").status == 401);
  REQUIRE(c.as(rotated.token, "GET", "/api/tasks").status == 401);
}

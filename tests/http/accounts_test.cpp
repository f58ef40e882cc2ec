// The optional built-in accounts (SPEC §4, AUTH_ACCOUNTS=on) over HTTP:
// register, login, use, logout, and the failure answers. Runs on SQLite and,
// through test_http_postgres, on PostgreSQL.

#include <catch2/catch.hpp>

#include <set>

#include "test_server.hpp"

using nlohmann::json;
using test::Client;
using test::Reply;
using test::TestServer;

namespace {

Reply post(Client& c, const std::string& path, const json& body) { return c.send("POST", path, body.dump()); }

std::string login(Client& c, const std::string& email, const std::string& password) {
  const Reply r = post(c, "/api/auth/login", {{"email", email}, {"password", password}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json()["access_token"];
}

}  // namespace

TEST_CASE("accounts: register, login, use the token, logout, and the token is dead", "[accounts]") {
  TestServer server({}, nullptr, todo_server::AccountsOptions{});
  Client c = server.client();

  const Reply reg = post(c, "/api/auth/register",
                         {{"email", " Ada@Example.COM "}, {"password", "correct horse"}, {"name", "Ada"}});
  INFO(reg.body);
  REQUIRE(reg.status == 201);
  const json user = reg.json()["user"];
  REQUIRE(user["email"] == "ada@example.com");
  REQUIRE(user["name"] == "Ada");
  REQUIRE(user["id"].get<std::string>().size() == 36);
  REQUIRE_FALSE(reg.json().dump().find("password") != std::string::npos);

  const Reply in = post(c, "/api/auth/login", {{"email", "ADA@example.com"}, {"password", "correct horse"}});
  REQUIRE(in.status == 200);
  const json session = in.json();
  REQUIRE(session["token_type"] == "Bearer");
  REQUIRE(session["expires_in"] == 3600);
  REQUIRE(session["user"] == user);
  const std::string token = session["access_token"];

  const Reply me = c.as(token, "GET", "/api/auth/me");
  REQUIRE(me.status == 200);
  REQUIRE(me.json() == user);

  const Reply created = c.as(token, "POST", "/api/tasks", R"({"title":"from a built-in account"})");
  REQUIRE(created.status == 201);
  REQUIRE(created.json()["user_id"] == user["id"]);
  REQUIRE(c.as(token, "GET", "/api/" + user["id"].get<std::string>() + "/tasks").status == 200);

  const Reply out = c.send("POST", "/api/auth/logout", "", {{"Authorization", "Bearer " + token}});
  REQUIRE(out.status == 204);
  const Reply after = c.as(token, "GET", "/api/tasks");
  REQUIRE(after.status == 401);
  REQUIRE(after.header("WWW-Authenticate") == R"(Bearer error="invalid_token")");
  REQUIRE(c.as(token, "GET", "/api/auth/me").status == 401);

  // A new login gets a new, working token.
  REQUIRE(c.as(login(c, "ada@example.com", "correct horse"), "GET", "/api/tasks").json()["tasks"].size() == 1);
}

TEST_CASE("accounts: a logout is honoured by another server on the same database", "[accounts]") {
  // Two servers, one database: the second learns of the first's logout from the store.
  TestServer a({}, nullptr, todo_server::AccountsOptions{});
  TestServer b({}, a.shared_repository(), todo_server::AccountsOptions{});
  Client ca = a.client();
  Client cb = b.client();
  REQUIRE(post(ca, "/api/auth/register", {{"email", "bo@example.com"}, {"password", "12345678"}}).status == 201);
  const std::string token = login(cb, "bo@example.com", "12345678");
  REQUIRE(ca.as(token, "GET", "/api/tasks").status == 200);
  REQUIRE(cb.send("POST", "/api/auth/logout", "", {{"Authorization", "Bearer " + token}}).status == 204);
  REQUIRE(ca.as(token, "GET", "/api/tasks").status == 401);
}

TEST_CASE("accounts: wrong password and unknown email get the same 401", "[accounts]") {
  TestServer server({}, nullptr, todo_server::AccountsOptions{});
  Client c = server.client();
  REQUIRE(post(c, "/api/auth/register", {{"email", "cy@example.com"}, {"password", "right password"}}).status == 201);
  const Reply wrong = post(c, "/api/auth/login", {{"email", "cy@example.com"}, {"password", "wrong password"}});
  const Reply unknown = post(c, "/api/auth/login", {{"email", "nobody@example.com"}, {"password", "wrong password"}});
  REQUIRE(wrong.status == 401);
  REQUIRE(unknown.status == 401);
  REQUIRE(wrong.body == unknown.body);
  REQUIRE(wrong.json()["error"]["code"] == "invalid_credentials");
}

TEST_CASE("accounts: duplicate email (case-insensitive) is 409; bad input is 422", "[accounts]") {
  TestServer server({}, nullptr, todo_server::AccountsOptions{});
  Client c = server.client();
  REQUIRE(post(c, "/api/auth/register", {{"email", "dee@example.com"}, {"password", "12345678"}}).status == 201);
  const Reply dup = post(c, "/api/auth/register", {{"email", "DEE@EXAMPLE.COM"}, {"password", "another1"}});
  REQUIRE(dup.status == 409);
  REQUIRE(dup.json()["error"]["code"] == "email_taken");

  const Reply bad = post(c, "/api/auth/register", {{"email", "not-an-email"}, {"password", "short"}});
  REQUIRE(bad.status == 422);
  std::set<std::string> fields;
  const json body = bad.json();
  for (const auto& d : body["error"]["details"]) fields.insert(d["field"].get<std::string>());
  REQUIRE(fields == std::set<std::string>{"email", "password"});
  REQUIRE(post(c, "/api/auth/register", {{"email", "x@example.com"}, {"password", "1234567"}}).status == 422);
  REQUIRE(post(c, "/api/auth/register", {{"email", "x@example.com"}, {"password", 12345678}}).status == 422);
  REQUIRE(c.send("POST", "/api/auth/register", "{").status == 400);
}

TEST_CASE("accounts: repeated failed logins are throttled with 429 and Retry-After", "[accounts]") {
  todo_server::AccountsOptions o;
  o.max_failures_per_account = 3;
  TestServer server({}, nullptr, o);
  Client c = server.client();
  REQUIRE(post(c, "/api/auth/register", {{"email", "eve@example.com"}, {"password", "the real one"}}).status == 201);
  for (int i = 0; i < 3; ++i)
    REQUIRE(post(c, "/api/auth/login", {{"email", "eve@example.com"}, {"password", "guess " + std::to_string(i)}})
                .status == 401);
  const Reply limited = post(c, "/api/auth/login", {{"email", "eve@example.com"}, {"password", "the real one"}});
  REQUIRE(limited.status == 429);
  REQUIRE(std::stoi(limited.header("Retry-After")) > 0);
  REQUIRE(limited.json()["error"]["code"] == "too_many_attempts");
  // Another account is not affected.
  REQUIRE(post(c, "/api/auth/register", {{"email", "fay@example.com"}, {"password", "12345678"}}).status == 201);
  REQUIRE(post(c, "/api/auth/login", {{"email", "fay@example.com"}, {"password", "12345678"}}).status == 200);
}

TEST_CASE("accounts: switched off, the routes do not exist", "[accounts]") {
  TestServer server;
  Client c = server.client();
  REQUIRE(post(c, "/api/auth/register", {{"email", "a@example.com"}, {"password", "12345678"}}).status == 404);
  REQUIRE(post(c, "/api/auth/login", {{"email", "a@example.com"}, {"password", "12345678"}}).status == 404);
  REQUIRE(c.as(test::token_for("a"), "GET", "/api/auth/me").status == 404);
}

TEST_CASE("accounts: passwords are stored as Argon2id hashes", "[accounts]") {
  const std::string hash = todo_server::hash_password("correct horse");
  REQUIRE(hash.rfind("$argon2id$", 0) == 0);
  REQUIRE(hash.find("correct horse") == std::string::npos);
  REQUIRE(todo_server::verify_password(hash, "correct horse"));
  REQUIRE_FALSE(todo_server::verify_password(hash, "correct horsf"));
  REQUIRE(todo_server::hash_password("correct horse") != hash);  // salted
}

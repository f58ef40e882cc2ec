// Rate limits per user (the token's sub) and per client address: 429 with
// Retry-After and the one error body, RateLimit-Policy / RateLimit fields
// (structured-field syntax of draft-ietf-httpapi-ratelimit-headers -08+),
// other users unaffected, probes exempt.

#include <catch2/catch.hpp>

#include <string>

#include "rate_limit.hpp"
#include "test_server.hpp"

using test::Client;
using test::Reply;
using test::require_error_shape;
using test::TestServer;
using test::token_for;

TEST_CASE("a burst over the per-user limit gets 429 with the headers; another user is unaffected",
          "[http][ratelimit]") {
  todo_server::HttpOptions options;
  options.user_rate_limit = {0.5, 5};  // 5 at once, then one every 2 s
  TestServer server(options);
  Client c = server.client();
  const std::string alice = token_for("alice");

  for (int i = 0; i < 5; ++i) {
    INFO("request " << i);
    const Reply r = c.as(alice, "GET", "/api/tasks");
    REQUIRE(r.status == 200);
    CHECK(r.header("RateLimit-Policy") == "\"user\";q=5;w=10");
    CHECK(r.header("RateLimit") ==
          "\"user\";r=" + std::to_string(4 - i) + ";t=" + std::to_string(2 * (i + 1)));
  }
  const Reply limited = c.as(alice, "POST", "/api/tasks", R"({"title":"x"})");
  require_error_shape(limited, 429, "rate_limited");
  CHECK(limited.header("Retry-After") == "2");
  CHECK(limited.header("RateLimit-Policy") == "\"user\";q=5;w=10");
  CHECK(limited.header("RateLimit").rfind("\"user\";r=0;t=", 0) == 0);
  CHECK(c.as(alice, "GET", "/api/alice/tasks").status == 429);  // both route shapes, one bucket

  // Bob has a bucket of his own; requests without a valid token are not charged to anyone.
  const std::string bob = token_for("bob");
  for (int i = 0; i < 5; ++i) CHECK(c.as(bob, "GET", "/api/tasks").status == 200);
  CHECK(c.as("bad", "GET", "/api/tasks").status == 401);
  CHECK(c.as(alice, "GET", "/api/tasks").status == 429);
  // Nothing was created by the refused POST.
  CHECK(server.repository().list("alice", {}).tasks.empty());
  CHECK(server.server().metrics_text().find("todo_rate_limited_total{scope=\"user\"} 3\n") !=
        std::string::npos);
}

TEST_CASE("the per-address limit applies before the token, and not to probes",
          "[http][ratelimit]") {
  todo_server::HttpOptions options;
  options.address_rate_limit = {0.5, 3};
  options.user_rate_limit = {100, 100};
  TestServer server(options);
  Client c = server.client();
  const std::string alice = token_for("alice");

  const Reply first = c.as(alice, "GET", "/api/tasks");
  REQUIRE(first.status == 200);
  // Both policies, one list each.
  CHECK(first.header("RateLimit-Policy") == "\"address\";q=3;w=6, \"user\";q=100;w=1");
  CHECK(first.header("RateLimit").rfind("\"address\";r=2;t=2, \"user\";r=99;t=1", 0) == 0);
  CHECK(c.send("GET", "/api/tasks").status == 401);  // counts: it came from the address
  CHECK(c.as(alice, "GET", "/api/tasks").status == 200);
  const Reply limited = c.as(token_for("bob"), "GET", "/api/tasks");
  require_error_shape(limited, 429, "rate_limited");
  CHECK(limited.header("Retry-After") == "2");
  CHECK_FALSE(limited.has_header("WWW-Authenticate"));  // refused before the token was looked at

  for (const char* probe : {"/health", "/livez", "/readyz", "/metrics"}) {
    INFO(probe);
    const Reply r = c.send("GET", probe);
    CHECK(r.status == 200);
    CHECK_FALSE(r.has_header("RateLimit"));
  }
}

TEST_CASE("without settings there are no limits and no headers", "[http][ratelimit]") {
  TestServer server;
  Client c = server.client();
  for (int i = 0; i < 50; ++i) REQUIRE(c.as(token_for("alice"), "GET", "/api/tasks").status == 200);
  CHECK_FALSE(c.as(token_for("alice"), "GET", "/api/tasks").has_header("RateLimit-Policy"));
}

TEST_CASE("token buckets refill at their rate and stay bounded in number", "[ratelimit][unit]") {
  using todo_server::RateLimiter;
  RateLimiter limiter({2, 4}, 64);
  const auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 4; ++i) CHECK(limiter.take("k", t0).allowed);
  const auto refused = limiter.take("k", t0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after == 1);  // half a second to the next token, rounded up
  CHECK(refused.reset == 2);
  CHECK(limiter.take("k", t0 + std::chrono::milliseconds(500)).allowed);
  CHECK_FALSE(limiter.take("k", t0 + std::chrono::milliseconds(600)).allowed);
  const auto later =
      limiter.take("k", t0 + std::chrono::seconds(10));  // full again, capped at the burst
  CHECK(later.allowed);
  CHECK(later.remaining == 3);

  for (int i = 0; i < 5000; ++i)
    limiter.take("key-" + std::to_string(i), t0 + std::chrono::seconds(20));
  CHECK(limiter.size() <= 64);
  CHECK(limiter.policy_item("user") == "\"user\";q=4;w=2");
}

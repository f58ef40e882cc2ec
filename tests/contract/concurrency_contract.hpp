#pragma once
// The TaskRepository contract for optimistic concurrency (Precondition on update, replace,
// toggle and remove), the IdempotencyStore port and the pool counters.
//
// Included at the end of repository_contract.hpp, so every backend that runs the contract
// runs this too; it uses that file's helpers and its ContractBackends.

#include <libtodo/idempotency_store.hpp>

#include "concurrently.hpp"

namespace libtodo_contract {

using libtodo::IdempotencyClaim;
using libtodo::IdempotencyKey;
using libtodo::IdempotencyStore;
using libtodo::Precondition;
using libtodo::PreconditionFailed;
using libtodo::StoredResponse;
using Outcome = IdempotencyClaim::Outcome;

inline IdempotencyStore& idempotency_of(TaskRepository& repo) {
  auto* store = dynamic_cast<IdempotencyStore*>(&repo);
  REQUIRE(store != nullptr);
  return *store;
}

}  // namespace libtodo_contract

// --- preconditions ----------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE(
    "contract: a write with the current version succeeds, a stale one changes nothing",
    "[contract][precondition]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task t = repo->create("alice", full_draft());
  REQUIRE(t.version == 1);

  const auto first = repo->update("alice", t.id, title_patch("first"), t.version);
  REQUIRE(first);
  CHECK(first->version == 2);
  CHECK(first->title == "first");

  // Stale: the version the client read before the first write.
  CHECK_THROWS_AS(repo->update("alice", t.id, title_patch("second"), t.version),
                  PreconditionFailed);
  CHECK_THROWS_AS(repo->replace("alice", t.id, draft("second"), t.version), PreconditionFailed);
  CHECK_THROWS_AS(repo->toggle("alice", t.id, t.version), PreconditionFailed);
  CHECK_THROWS_AS(repo->remove("alice", t.id, t.version), PreconditionFailed);
  CHECK(repo->find("alice", t.id) == first);  // untouched, version included

  // Any of several versions; an empty list never matches an existing task.
  const auto toggled = repo->toggle("alice", t.id, Precondition::any_of({7, 2, 9}));
  REQUIRE(toggled);
  CHECK(toggled->completed);
  CHECK(toggled->version == 3);
  CHECK_THROWS_AS(repo->update("alice", t.id, title_patch("x"), Precondition::any_of({})),
                  PreconditionFailed);
  const auto replaced = repo->replace("alice", t.id, draft("replaced"), 3);
  REQUIRE(replaced);
  CHECK(replaced->title == "replaced");
  CHECK(replaced->priority == Priority::medium);
  CHECK(replaced->version == 4);

  // Unconditional writes keep working.
  const auto plain = repo->update("alice", t.id, title_patch("plain"));
  REQUIRE(plain);
  CHECK(plain->version == 5);

  CHECK(repo->remove("alice", t.id, 5));
  CHECK_FALSE(repo->find("alice", t.id));
}

TEMPLATE_LIST_TEST_CASE("contract: a precondition on a missing or foreign task is plain absence",
                        "[contract][precondition]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task bobs = repo->create("bob", draft("bob's"));
  for (const std::string& id : {bobs.id, libtodo::new_uuid_v7(), std::string("not-a-uuid")}) {
    INFO(id);
    // Neither version reveals anything: another user's task is absent, whatever its version.
    for (const Precondition& p : {Precondition(1), Precondition(2), Precondition::any_of({})}) {
      CHECK_FALSE(repo->update("alice", id, title_patch("x"), p));
      CHECK_FALSE(repo->toggle("alice", id, p));
      CHECK_FALSE(repo->remove("alice", id, p));
    }
  }
  CHECK(repo->find("bob", bobs.id) == bobs);
}

TEMPLATE_LIST_TEST_CASE("contract: a failed precondition on a recurring task spawns nothing",
                        "[contract][precondition]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task t = repo->create("alice", recurring(Recurrence::daily, "2026-03-01T09:00:00Z"));
  CHECK_THROWS_AS(repo->update("alice", t.id, completed_patch(true), 99), PreconditionFailed);
  CHECK_THROWS_AS(repo->toggle("alice", t.id, 99), PreconditionFailed);
  CHECK(repo->list("alice", TaskQuery{}).tasks.size() == 1);
  REQUIRE(repo->toggle("alice", t.id, 1));
  CHECK(repo->list("alice", TaskQuery{}).tasks.size() == 2);
}

TEMPLATE_LIST_TEST_CASE(
    "contract: of 32 concurrent writes expecting one version, exactly one succeeds",
    "[contract][precondition][threads]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const bool removing = GENERATE(false, true);
  INFO((removing ? "remove" : "update"));
  const Task t = repo->create("alice", draft("contended"));
  constexpr int threads = 32;
  ThreadErrors errors;
  std::atomic<int> succeeded{0}, failed{0}, absent{0};
  std::mutex winner_mutex;
  std::string winner;
  test::run_concurrently(threads, [&](int n) {
    errors.run([&] {
      try {
        const std::string title = "writer " + std::to_string(n);
        const bool ok =
            removing ? repo->remove("alice", t.id, t.version)
                     : repo->update("alice", t.id, title_patch(title), t.version).has_value();
        if (!ok) {
          // Only a remove may find the task gone (the winner deleted it).
          if (!removing) throw std::runtime_error("the task vanished");
          ++absent;
          return;
        }
        ++succeeded;
        std::lock_guard lock(winner_mutex);
        winner = title;
      } catch (const PreconditionFailed&) {
        ++failed;
      }
    });
  });
  CHECK(errors.messages() == std::vector<std::string>{});
  CHECK(succeeded == 1);
  CHECK(failed + absent == threads - 1);
  const auto final_state = repo->find("alice", t.id);
  if (removing) {
    CHECK_FALSE(final_state);
  } else {
    REQUIRE(final_state);
    CHECK(final_state->version == 2);
    CHECK(final_state->title == winner);
  }
}

// --- idempotency store ------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: an idempotency key is acquired once, then replays its response",
                        "[contract][idempotency]", ContractBackends) {
  using namespace libtodo_contract;
  using namespace std::chrono_literals;
  auto repo = TestType::make();
  IdempotencyStore& store = idempotency_of(*repo);
  const IdempotencyKey key{"alice", "POST /api/tasks", "key-1"};
  const Timestamp t0 = at("2026-01-01T00:00:00Z");

  const IdempotencyClaim first = store.claim(key, "fp-a", t0, 30s, 24h);
  REQUIRE(first.outcome == Outcome::acquired);
  REQUIRE_FALSE(first.owner.empty());
  CHECK(store.claim(key, "fp-a", t0 + 1s, 30s, 24h).outcome == Outcome::in_progress);
  CHECK(store.claim(key, "fp-b", t0 + 1s, 30s, 24h).outcome == Outcome::mismatch);

  // Per user and per route: the same key elsewhere is another key.
  CHECK(store.claim({"bob", key.route, key.key}, "fp-a", t0, 30s, 24h).outcome ==
        Outcome::acquired);
  CHECK(store.claim({"alice", "POST /api/tasks/bulk/delete", key.key}, "fp-a", t0, 30s, 24h)
            .outcome == Outcome::acquired);

  const StoredResponse response{
      201, {{"Location", "/api/tasks/x"}, {"ETag", "\"1\""}}, R"({"id":"x","t":"é"})"};
  CHECK_FALSE(store.complete(key, "someone-else", response));
  CHECK(store.complete(key, first.owner, response));
  const IdempotencyClaim again = store.claim(key, "fp-a", t0 + 2s, 30s, 24h);
  REQUIRE(again.outcome == Outcome::replay);
  REQUIRE(again.response);
  CHECK(*again.response == response);
  CHECK(store.claim(key, "fp-b", t0 + 2s, 30s, 24h).outcome == Outcome::mismatch);
  // Completed: the owner's token is spent.
  CHECK_FALSE(store.abandon(key, first.owner));

  // After the time to live, the key is new again, whatever the body.
  const IdempotencyClaim later = store.claim(key, "fp-b", t0 + 24h + 1s, 30s, 24h);
  CHECK(later.outcome == Outcome::acquired);
  CHECK(later.owner != first.owner);
}

TEMPLATE_LIST_TEST_CASE("contract: an abandoned or timed-out claim can be taken again",
                        "[contract][idempotency]", ContractBackends) {
  using namespace libtodo_contract;
  using namespace std::chrono_literals;
  auto repo = TestType::make();
  IdempotencyStore& store = idempotency_of(*repo);
  const IdempotencyKey key{"alice", "POST /api/tasks", "k"};
  const Timestamp t0 = at("2026-01-01T00:00:00Z");

  const IdempotencyClaim a = store.claim(key, "fp", t0, 10s, 24h);
  REQUIRE(a.outcome == Outcome::acquired);
  CHECK_FALSE(store.abandon(key, "not-the-owner"));
  CHECK(store.abandon(key, a.owner));
  const IdempotencyClaim b = store.claim(key, "fp", t0 + 1s, 10s, 24h);
  REQUIRE(b.outcome == Outcome::acquired);

  // The owner's lease runs out: a claim with another body is still refused,
  // one with the same body takes over, and the old owner can no longer complete.
  CHECK(store.claim(key, "fp", t0 + 5s, 10s, 24h).outcome == Outcome::in_progress);
  CHECK(store.claim(key, "other", t0 + 12s, 10s, 24h).outcome == Outcome::mismatch);
  const IdempotencyClaim c = store.claim(key, "fp", t0 + 12s, 10s, 24h);
  REQUIRE(c.outcome == Outcome::acquired);
  CHECK(c.owner != b.owner);
  CHECK_FALSE(store.complete(key, b.owner, StoredResponse{201, {}, "{}"}));
  CHECK(store.complete(key, c.owner, StoredResponse{201, {}, "{\"by\":\"c\"}"}));
  const IdempotencyClaim d = store.claim(key, "fp", t0 + 13s, 10s, 24h);
  REQUIRE(d.outcome == Outcome::replay);
  CHECK(d.response->body == "{\"by\":\"c\"}");
  CHECK(d.response->headers.empty());
}

TEMPLATE_LIST_TEST_CASE("contract: of concurrent claims of a new key exactly one acquires it",
                        "[contract][idempotency][threads]", ContractBackends) {
  using namespace libtodo_contract;
  using namespace std::chrono_literals;
  auto repo = TestType::make();
  IdempotencyStore& store = idempotency_of(*repo);
  const IdempotencyKey key{"alice", "POST /api/tasks", "race"};
  const Timestamp now = libtodo::now_ms();
  constexpr int threads = 16;
  ThreadErrors errors;
  std::atomic<int> acquired{0}, waiting{0};
  test::run_concurrently(threads, [&](int) {
    errors.run([&] {
      const auto outcome = store.claim(key, "fp", now, 30s, 24h).outcome;
      if (outcome == Outcome::acquired) ++acquired;
      if (outcome == Outcome::in_progress) ++waiting;
    });
  });
  CHECK(errors.messages() == std::vector<std::string>{});
  CHECK(acquired == 1);
  CHECK(waiting == threads - 1);
}

TEMPLATE_LIST_TEST_CASE(
    "contract: expired idempotency records are purged, at most `limit` at a time",
    "[contract][idempotency]", ContractBackends) {
  using namespace libtodo_contract;
  using namespace std::chrono_literals;
  auto repo = TestType::make();
  IdempotencyStore& store = idempotency_of(*repo);
  const Timestamp t0 = at("2026-01-01T00:00:00Z");
  for (int i = 0; i < 5; ++i)
    REQUIRE(store.claim({"alice", "r", "old-" + std::to_string(i)}, "fp", t0, 1s, 1h).outcome ==
            Outcome::acquired);
  REQUIRE(store.claim({"alice", "r", "young"}, "fp", t0 + 2h, 1s, 1h).outcome == Outcome::acquired);
  CHECK(store.purge_idempotency_keys(t0 + 90min, 3) == 3);
  CHECK(store.purge_idempotency_keys(t0 + 90min, 100) == 2);
  CHECK(store.purge_idempotency_keys(t0 + 90min, 100) == 0);
  // The young one is still there, pending.
  CHECK(store.claim({"alice", "r", "young"}, "fp", t0 + 2h, 1s, 1h).outcome ==
        Outcome::in_progress);
}

TEMPLATE_LIST_TEST_CASE("contract: invalid idempotency claims are rejected",
                        "[contract][idempotency]", ContractBackends) {
  using namespace libtodo_contract;
  using namespace std::chrono_literals;
  auto repo = TestType::make();
  IdempotencyStore& store = idempotency_of(*repo);
  const Timestamp now = libtodo::now_ms();
  CHECK_THROWS_AS(store.claim({"", "r", "k"}, "fp", now, 1s, 1h), libtodo::ValidationError);
  CHECK_THROWS_AS(store.claim({"alice", "", "k"}, "fp", now, 1s, 1h), libtodo::ValidationError);
  CHECK_THROWS_AS(store.claim({"alice", "r", ""}, "fp", now, 1s, 1h), libtodo::ValidationError);
  CHECK_THROWS_AS(store.claim({"alice", "r", "has space"}, "fp", now, 1s, 1h),
                  libtodo::ValidationError);
  CHECK_THROWS_AS(store.claim({"alice", "r", std::string(256, 'k')}, "fp", now, 1s, 1h),
                  libtodo::ValidationError);
  CHECK_THROWS_AS(store.claim({"alice", "r", "k"}, "", now, 1s, 1h), libtodo::ValidationError);
  CHECK(store.claim({"alice", "r", std::string(255, 'k')}, "fp", now, 1s, 1h).outcome ==
        Outcome::acquired);
}

// --- pool counters and ping ---------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: pool counters add up and ping passes on a migrated store",
                        "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  repo->create("alice", draft("t"));
  CHECK_NOTHROW(repo->ping());
  const libtodo::PoolStats s = repo->pool_stats();
  CHECK(s.open >= 1);
  CHECK(s.in_use == 0);  // nothing runs right now
  CHECK(s.idle == s.open);
  CHECK(s.waiting == 0);
  CHECK(s.wait_time.count() >= 0);
}

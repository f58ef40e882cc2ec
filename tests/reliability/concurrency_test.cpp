// Races through the HTTP server (issue 10): 64 clients toggling and patching
// one task at once, and bulk deletes racing each other, bulk completes, reads
// and patches. No 500 (nor any other failure), every acknowledged write
// accounted for in the final state, and no bulk operation ever seen half done.
// Runs on a SQLite file, or on PostgreSQL with LIBTODO_TEST_BACKEND=postgres.

#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <iostream>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/temp_dir.hpp"
#include "http/test_server.hpp"

namespace {

using json = nlohmann::json;
using test::Client;
using test::Reply;

// Collects what threads saw; Catch2's assertions are for the main thread only.
class Findings {
 public:
  void add(std::string s) {
    std::lock_guard lock(mutex_);
    if (items_.size() < 20) items_.push_back(std::move(s));
    ++count_;
  }
  void require_none() {
    std::lock_guard lock(mutex_);
    for (const auto& s : items_) FAIL_CHECK(s);
    REQUIRE(count_ == 0);
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> items_;
  int count_ = 0;
};

json listing(Client& c, const std::string& token) {
  const Reply r = c.as(token, "GET", "/api/tasks");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json()["tasks"];
}

}  // namespace

TEST_CASE("64 clients toggling and patching one task: every write serialized, none lost",
          "[concurrency][toggle]") {
  test::TempDir dir;
  test::TestServer server({}, test::make_file_repository(dir.path.string()));
  const std::string tok = test::token_for("racer");
  Client setup = server.client();
  // Recurring with a due date: every completion spawns one next occurrence,
  // which counts the false -> true transitions independently of the answers.
  const json created = [&] {
    const Reply r =
        setup.as(tok, "POST", "/api/tasks",
                 R"({"title":"contended","recurrence":"daily","due_date":"2026-03-01T09:00:00Z"})");
    REQUIRE(r.status == 201);
    return r.json();
  }();
  const std::string path = "/api/tasks/" + created["id"].get<std::string>();

  constexpr int clients = 64, requests_each = 8;
  Findings findings;
  std::mutex mutex;
  std::vector<json> answers;  // every 200 answer, toggles and patches
  int toggled_to_true = 0, toggled_to_false = 0;
  std::set<std::string> patched_titles;
  std::latch start(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      Client c = server.client();
      start.arrive_and_wait();
      for (int k = 0; k < requests_each; ++k) {
        const bool toggle = i % 2 == 0;
        const std::string title = "patch-" + std::to_string(i) + "-" + std::to_string(k);
        const Reply r =
            toggle ? c.as(tok, "PATCH", path + "/complete")
                   : c.as(tok, "PATCH", path,
                          json{{"title", title}, {"priority", k % 2 ? "high" : "low"}}.dump());
        if (r.status != 200) {
          findings.add(std::to_string(r.status) + " " + r.body);
          continue;
        }
        const json t = r.json();
        std::lock_guard lock(mutex);
        answers.push_back(t);
        if (toggle)
          ++(t["completed"].get<bool>() ? toggled_to_true : toggled_to_false);
        else
          patched_titles.insert(title);
      }
    });
  }
  for (auto& t : threads) t.join();
  findings.require_none();
  REQUIRE(answers.size() == clients * requests_each);

  // Toggles are serialized: from false, the answers alternate true, false, ...
  const int toggles = toggled_to_true + toggled_to_false;
  REQUIRE(toggles == clients / 2 * requests_each);
  CHECK(toggled_to_true == (toggles + 1) / 2);
  CHECK(toggled_to_false == toggles / 2);

  const json tasks = listing(setup, tok);
  json final_state;
  int occurrences = 0;
  for (const json& t : tasks) {
    if (t["id"] == created["id"]) {
      final_state = t;
    } else {
      ++occurrences;
      CHECK(t["completed"] == false);
      CHECK(t["due_date"] == "2026-03-02T09:00:00.000Z");
    }
  }
  REQUIRE(final_state.is_object());
  CHECK(final_state["completed"] == (toggles % 2 == 1));
  CHECK(occurrences == toggled_to_true);
  CHECK(patched_titles.count(final_state["title"].get<std::string>()) == 1);
  // The final state is exactly what the last write answered: nothing was
  // changed after an answer was computed.
  CHECK(std::count(answers.begin(), answers.end(), final_state) >= 1);
  for (const json& a : answers)
    CHECK(a["updated_at"].get<std::string>() <= final_state["updated_at"].get<std::string>());
}

TEST_CASE("bulk deletes racing each other, bulk completes, reads and patches: all or nothing",
          "[concurrency][bulk]") {
  test::TempDir dir;
  test::TestServer server({}, test::make_file_repository(dir.path.string()));
  const std::string tok = test::token_for("bulk-racer");
  Client setup = server.client();

  // Per round g: deleter A removes group[g] (5 tasks); deleter B removes
  // group[g][0] plus its own 4 tasks; completer C completes group[g]. A and B
  // overlap in one id, so exactly one of them may succeed.
  constexpr int rounds = 30;
  std::vector<std::vector<std::string>> group(rounds), own_b(rounds);
  std::vector<std::string> all_ids;
  for (int g = 0; g < rounds; ++g)
    for (int k = 0; k < 9; ++k) {
      const Reply r =
          setup.as(tok, "POST", "/api/tasks",
                   json{{"title", "g" + std::to_string(g) + "-" + std::to_string(k)}}.dump());
      REQUIRE(r.status == 201);
      const std::string id = r.json()["id"];
      (k < 5 ? group[g] : own_b[g]).push_back(id);
      all_ids.push_back(id);
    }
  std::map<std::string, std::pair<int, int>> where;  // id -> (round, 0 group / 1 B's own)
  for (int g = 0; g < rounds; ++g) {
    for (const auto& id : group[g]) where[id] = {g, 0};
    for (const auto& id : own_b[g]) where[id] = {g, 1};
  }

  Findings findings;
  std::vector<int> a_won(rounds, -1), b_won(rounds, -1), c_won(rounds, -1);
  std::barrier round_start(3);
  std::atomic<bool> done{false};
  std::atomic<long> listings{0}, patches{0};

  const auto bulk = [&](Client& c, const char* what, const std::vector<std::string>& ids) {
    const Reply r =
        c.as(tok, "POST", std::string("/api/tasks/bulk/") + what, json{{"ids", ids}}.dump());
    if (r.status == 200) {
      const json j = r.json();
      const json n = j[std::string(what) == "delete" ? "deleted" : "updated"];
      if (n != ids.size()) findings.add(std::string("partial bulk ") + what + ": " + r.body);
      return 1;
    }
    if (r.status != 404)
      findings.add(std::string("bulk ") + what + ": " + std::to_string(r.status) + " " + r.body);
    return 0;
  };
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    Client c = server.client();
    for (int g = 0; g < rounds; ++g) {
      round_start.arrive_and_wait();
      a_won[g] = bulk(c, "delete", group[g]);
    }
  });
  threads.emplace_back([&] {
    Client c = server.client();
    for (int g = 0; g < rounds; ++g) {
      std::vector<std::string> ids{group[g][0]};
      ids.insert(ids.end(), own_b[g].begin(), own_b[g].end());
      round_start.arrive_and_wait();
      b_won[g] = bulk(c, "delete", ids);
    }
  });
  threads.emplace_back([&] {
    Client c = server.client();
    for (int g = 0; g < rounds; ++g) {
      round_start.arrive_and_wait();
      c_won[g] = bulk(c, "complete", group[g]);
    }
  });
  // Readers: every listing is one snapshot, which must show each round's
  // tasks in a state some order of whole bulk operations produces.
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      Client c = server.client();
      while (!done) {
        const Reply r = c.as(tok, "GET", "/api/tasks");
        if (r.status != 200) {
          findings.add("list: " + std::to_string(r.status) + " " + r.body);
          continue;
        }
        ++listings;
        std::vector<std::vector<int>> present(rounds, std::vector<int>(9, 0));
        std::vector<std::set<bool>> completed(rounds);
        const json page = r.json();  // a named document: the loop must not outlive it
        for (const json& t : page["tasks"]) {
          const auto [g, part] = where.at(t["id"].get<std::string>());
          const auto& ids = part == 0 ? group[g] : own_b[g];
          const auto k =
              std::find(ids.begin(), ids.end(), t["id"]) - ids.begin() + (part == 0 ? 0 : 5);
          present[g][k] = 1;
          if (part == 0) completed[g].insert(t["completed"].get<bool>());
        }
        for (int g = 0; g < rounds; ++g) {
          const auto& p = present[g];
          const bool none_gone = std::count(p.begin(), p.end(), 1) == 9;
          const bool a_done = std::count(p.begin(), p.begin() + 5, 0) == 5 &&
                              std::count(p.begin() + 5, p.end(), 1) == 4;
          const bool b_done = p[0] == 0 && std::count(p.begin() + 1, p.begin() + 5, 1) == 4 &&
                              std::count(p.begin() + 5, p.end(), 0) == 4;
          if (!none_gone && !a_done && !b_done) {
            std::string seen;
            for (int v : p) seen += std::to_string(v);
            findings.add("round " + std::to_string(g) + " half deleted in a listing: " + seen);
          }
          if (completed[g].size() > 1)
            findings.add("round " + std::to_string(g) + " half completed in a listing");
        }
      }
    });
  // Patchers and single reads on every id, deleted or not: 200 or 404, nothing else.
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&, i] {
      Client c = server.client();
      for (std::size_t k = static_cast<std::size_t>(i); !done; k = (k + 7) % all_ids.size()) {
        const std::string path = "/api/tasks/" + all_ids[k];
        const Reply r = k % 3 == 0 ? c.as(tok, "GET", path)
                                   : c.as(tok, "PATCH", path,
                                          json{{"title", "patched " + std::to_string(k)}}.dump());
        if (r.status != 200 && r.status != 404)
          findings.add("task: " + std::to_string(r.status) + " " + r.body);
        ++patches;
      }
    });
  threads[0].join();
  threads[1].join();
  threads[2].join();
  done = true;
  for (std::size_t i = 3; i < threads.size(); ++i) threads[i].join();
  findings.require_none();
  REQUIRE(listings > 0);
  REQUIRE(patches > 0);

  // The final state: per round exactly one deleter won, and its ids alone
  // are gone. What is left of group[g] shows whether C's complete, which
  // raced both, happened wholly before them (then C succeeded) or not at all.
  std::map<std::string, bool> left;
  for (const json& t : listing(setup, tok))
    left[t["id"].get<std::string>()] = t["completed"].get<bool>();
  int a_wins = 0;
  for (int g = 0; g < rounds; ++g) {
    INFO("round " << g << ": A " << a_won[g] << ", B " << b_won[g] << ", C " << c_won[g]);
    REQUIRE(a_won[g] + b_won[g] == 1);
    a_wins += a_won[g];
    for (const auto& id : group[g]) {
      const bool gone = a_won[g] || id == group[g][0];
      REQUIRE(left.count(id) == (gone ? 0u : 1u));
      if (!gone) CHECK(left[id] == (c_won[g] == 1));
    }
    for (const auto& id : own_b[g]) CHECK(left.count(id) == (b_won[g] ? 0u : 1u));
  }
  CHECK(left.size() == rounds * 4u);
  std::cout << "bulk race: A won " << a_wins << " of " << rounds << " rounds; " << listings
            << " listings, " << patches << " single reads and patches checked\n";
}

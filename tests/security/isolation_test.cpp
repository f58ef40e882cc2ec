// Isolation between users (issue 10): 10,000 randomized requests by one user
// aimed at another user's tasks, through every route in both shapes (the
// victim's ids in paths and bulk lists, the victim's user id in the path,
// listing filters and cursors built from the victim's tasks). Every answer must
// be the expected refusal or the attacker's own data, no response may carry
// anything of the victim's, and neither user's tasks may change. Then, with
// the server set to hide foreign tasks (404), a request naming the victim's
// ids must be answered exactly like one naming ids that do not exist.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <libtodo/uuid.hpp>

#include "http/temp_dir.hpp"
#include "http/test_server.hpp"
#include "store.hpp"

namespace {

using json = nlohmann::json;
using test::Reply;

const std::string victim = "victim-user";
const std::string attacker = "attacker-user";

// What the attacker sends, and the status it must get.
struct Probe {
  std::string method;
  std::string path;
  std::string body;
  int expect = 0;
  bool listing = false;  // 200 with the attacker's tasks only
};

class ProbeMaker {
 public:
  ProbeMaker(std::vector<libtodo::Task> victims, std::vector<std::string> own, unsigned seed)
      : victims_(std::move(victims)), own_(std::move(own)), rng_(seed) {}

  // A random request aimed at the victim. `foreign` is the status for the
  // victim's task ids (403, or 404 when the server hides them).
  Probe next(int foreign) {
    const int shape = pick(3);  // 0: /api/tasks, 1: the attacker's own path, 2: the victim's path
    const std::string base =
        shape == 0 ? "/api/tasks" : "/api/" + (shape == 1 ? attacker : victim) + "/tasks";
    Probe p;
    const int op = pick(10);
    if (op < 5) {  // one task: GET, PUT, PATCH, DELETE, toggle
      const auto [id, is_victims] = target_id();
      static const char* const methods[] = {"GET", "PUT", "PATCH", "DELETE", "PATCH"};
      p.method = methods[op];
      p.path = base + "/" + id + (op == 4 ? "/complete" : "");
      if (op == 1 || op == 2) p.body = random_body();
      p.expect = is_victims ? foreign : 404;
    } else if (op < 7) {  // bulk: at least one id that is not the attacker's, maybe some that are
      json ids = json::array();
      bool any_victims = false;
      const int n = 1 + pick(4);
      for (int i = 0; i < n || ids.empty(); ++i) {
        if (pick(4) == 0) {
          ids.push_back(own_[pick(static_cast<int>(own_.size()))]);
          continue;
        }
        const auto [id, is_victims] = target_id();
        ids.push_back(id);
        any_victims = any_victims || is_victims;
      }
      if (std::all_of(ids.begin(), ids.end(), [&](const json& id) { return is_own(id); }))
        ids.push_back(libtodo::new_uuid_v7());
      p.method = "POST";
      p.path = base + (op == 5 ? "/bulk/complete" : "/bulk/delete");
      p.body = json{{"ids", ids}, {"completed", pick(2) == 0}}.dump();
      p.expect = any_victims ? foreign : 404;
    } else if (op < 9) {  // listings, filtered by what the victim's tasks hold
      p.method = "GET";
      p.path = base + "?" + random_filters();
      p.expect = 200;
      p.listing = true;
    } else {  // stats, or a create in the victim's path
      const bool create = shape == 2 && pick(2) == 0;
      p.method = create ? "POST" : "GET";
      p.path = base + (create ? "" : "/stats");
      if (create) p.body = R"({"title":"planted by the attacker"})";
      p.expect = 200;
    }
    if (shape == 2) {  // the victim's user id in the path: refused before anything else
      p.expect = 403;
      p.listing = false;
    }
    return p;
  }

  // Every string of the victim's that must never appear in an answer.
  [[nodiscard]] std::vector<std::string> secrets() const {
    std::vector<std::string> s{"VICTIM-SECRET", "victim-desc", "victimtag", victim};
    for (const auto& t : victims_) s.push_back(t.id);
    return s;
  }

  // The same probe with each id of the victim's replaced by a fresh one (the
  // same one wherever it occurs, so that repeated ids stay repeated).
  static Probe with_unknown_ids(Probe p, const std::vector<libtodo::Task>& victims) {
    for (const auto& t : victims) {
      const std::string fresh = libtodo::new_uuid_v7();
      for (std::string* s : {&p.path, &p.body})
        for (std::size_t at; (at = s->find(t.id)) != std::string::npos;)
          s->replace(at, t.id.size(), fresh);
    }
    return p;
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }

  bool is_own(const json& id) const {
    return std::find(own_.begin(), own_.end(), id) != own_.end();
  }

  // A victim's id (mostly), an unknown one, or a victim's id mangled so it names nothing.
  std::pair<std::string, bool> target_id() {
    const std::string id = victims_[pick(static_cast<int>(victims_.size()))].id;
    switch (pick(8)) {
      case 0:
        return {libtodo::new_uuid_v7(), false};
      case 1: {
        std::string upper = id;
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        return {upper, false};
      }
      case 2:
        return {id + "0", false};
      case 3:
        return {"%20" + id, false};
      default:
        return {id, true};
    }
  }

  std::string random_body() {
    switch (pick(4)) {
      case 0:
        return R"({"title":"taken over"})";
      case 1:
        return R"({"completed":true,"tags":["pwned"]})";
      case 2:
        return R"({"title":""})";  // invalid: the task check comes first
      default:
        return "not json";
    }
  }

  std::string random_filters() {
    std::string q;
    const auto add = [&](const std::string& part) { q += (q.empty() ? "" : "&") + part; };
    if (pick(2)) add("q=" + std::string(pick(2) ? "VICTIM" : "secret"));
    if (pick(3) == 0) add("tag=victimtag" + std::to_string(pick(3)));
    if (pick(3) == 0) add(std::string("status=") + (pick(2) ? "pending" : "completed"));
    if (pick(3) == 0) add(std::string("priority=") + (pick(2) ? "high" : "low"));
    static const libtodo::SortKey sorts[] = {libtodo::SortKey::created, libtodo::SortKey::updated,
                                             libtodo::SortKey::title, libtodo::SortKey::due_date,
                                             libtodo::SortKey::priority};
    const libtodo::SortKey sort = sorts[pick(5)];
    const bool descending = pick(2) == 0;
    add("sort=" + std::string(descending ? "-" : "") + std::string(libtodo::to_string(sort)));
    if (pick(2)) {
      // A cursor made from one of the victim's tasks: it positions the page, nothing more.
      const auto& t = victims_[pick(static_cast<int>(victims_.size()))];
      add("limit=" + std::to_string(1 + pick(5)) +
          "&cursor=" + libtodo::PageCursor::after(t, sort, descending).encode());
    }
    return q;
  }

  std::vector<libtodo::Task> victims_;
  std::vector<std::string> own_;
  std::mt19937 rng_;
};

struct Tally {
  std::mutex mutex;
  long requests = 0, leaks = 0, wrong_status = 0, listings = 0;
  std::vector<std::string> examples;
  void note(long& counter, std::string what) {
    std::lock_guard lock(mutex);
    ++counter;
    if (examples.size() < 10) examples.push_back(std::move(what));
  }
};

// Whether the answer carries any of `secrets`, in its body or its headers.
bool leaks(const Reply& r, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (r.body.find(s) != std::string::npos) return true;
    for (const auto& [name, value] : r.headers)
      if (value.find(s) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("isolation: 10,000 requests by one user at another's tasks: no leak, no change",
          "[security][isolation]") {
  test::TempDir dir;
  const test::Store store = test::make_store(dir.path.string());
  libtodo::TaskRepository& repo = *store.repo;
  std::vector<libtodo::Task> victims;
  for (int i = 0; i < 20; ++i) {
    libtodo::TaskDraft d;
    d.title = "VICTIM-SECRET-" + std::to_string(i);
    d.description = "victim-desc-" + std::to_string(i);
    d.tags = {"victimtag" + std::to_string(i % 3)};
    d.priority = i % 2 ? libtodo::Priority::high : libtodo::Priority::low;
    d.completed = i % 4 == 0;
    if (i % 3) d.due_date = libtodo::now_ms() + std::chrono::hours(24 * (i - 10));
    victims.push_back(repo.create(victim, d));
  }
  std::vector<std::string> own;
  for (int i = 0; i < 5; ++i) {
    libtodo::TaskDraft d;
    d.title = "attacker's own " + std::to_string(i) + (i % 2 ? " secret" : "");
    d.tags = {"own"};
    own.push_back(repo.create(attacker, d).id);
  }
  const auto victim_before = repo.list(victim, {}).tasks;
  const auto attacker_before = repo.list(attacker, {}).tasks;
  REQUIRE(victim_before.size() == 20);

  test::TestServer server({}, store.repo);
  const std::string tok = test::token_for(attacker);
  const std::vector<std::string> secrets = ProbeMaker(victims, own, 0).secrets();

  constexpr int threads = 4, per_thread = 2500;
  Tally tally;
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      test::Client c = server.client();
      ProbeMaker maker(victims, own, 1234u + static_cast<unsigned>(w));
      for (int i = 0; i < per_thread; ++i) {
        const Probe p = maker.next(403);
        const Reply r = c.as(tok, p.method, p.path, p.body);
        {
          std::lock_guard lock(tally.mutex);
          ++tally.requests;
        }
        const std::string what = p.method + " " + p.path + " " + p.body + " -> " +
                                 std::to_string(r.status) + " " + r.body.substr(0, 200);
        if (leaks(r, secrets)) tally.note(tally.leaks, "leak: " + what);
        if (r.status != p.expect)
          tally.note(tally.wrong_status, "expected " + std::to_string(p.expect) + ": " + what);
        if (p.listing && r.status == 200) {
          const json page = json::parse(r.body);
          for (const json& t : page["tasks"])
            if (t["user_id"] != attacker) tally.note(tally.leaks, "foreign task listed: " + what);
          std::lock_guard lock(tally.mutex);
          ++tally.listings;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  std::cout << "isolation: " << tally.requests << " requests (" << tally.listings << " listings), "
            << tally.leaks << " leaks, " << tally.wrong_status << " unexpected statuses\n";
  for (const auto& e : tally.examples) FAIL_CHECK(e);
  REQUIRE(tally.requests == threads * per_thread);
  REQUIRE(tally.leaks == 0);
  REQUIRE(tally.wrong_status == 0);
  REQUIRE(tally.listings > 1000);
  // Not one change, not even updated_at or version, to either user's tasks.
  CHECK(repo.list(victim, {}).tasks == victim_before);
  CHECK(repo.list(attacker, {}).tasks == attacker_before);
  CHECK(store.scalar("SELECT count(*) FROM tasks") == 25);

  SECTION("with foreign tasks hidden, the victim's ids answer exactly like unknown ones") {
    todo_server::HttpOptions hide;
    hide.foreign_task_not_found = true;
    test::TestServer hiding(hide, store.repo);
    test::Client c = hiding.client();
    ProbeMaker maker(victims, own, 99);
    int compared = 0;
    for (int i = 0; i < 2000; ++i) {
      const Probe p = maker.next(404);
      // Listings are left out: a cursor's id only breaks ties of its position.
      if (p.path.find('?') != std::string::npos) continue;
      const Probe q = ProbeMaker::with_unknown_ids(p, victims);
      if (p.path == q.path && p.body == q.body) continue;  // names none of the victim's ids
      const Reply a = c.as(tok, p.method, p.path, p.body);
      const Reply b = c.as(tok, q.method, q.path, q.body);
      INFO(p.method << " " << p.path << " " << p.body);
      REQUIRE(a.status == p.expect);
      REQUIRE(a.status == b.status);
      REQUIRE(a.body == b.body);
      REQUIRE_FALSE(leaks(a, secrets));
      ++compared;
    }
    CHECK(compared > 500);
    CHECK(repo.list(victim, {}).tasks == victim_before);
    CHECK(repo.list(attacker, {}).tasks == attacker_before);
  }
}

#pragma once
// Shared by the libFuzzer targets: invariant checks that abort (so libFuzzer
// records the input as a crash), and a small SQLite store to run queries on.

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <libtodo/sqlite_repository.hpp>

namespace fuzz {

/// Aborts with `what` when an invariant does not hold.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

/// An in-memory SQLite store holding a few tasks of user "u" with every kind
/// of sort value (dates and none, each priority, titles with and without
/// non-ASCII text), so that listings have rows to order and page through.
inline libtodo::TaskRepository& sample_store() {
  static libtodo::SqliteTaskRepository* repo = [] {
    auto* r = new libtodo::SqliteTaskRepository(libtodo::SqliteOptions{});
    const char* const titles[] = {"alpha", "Beta", "gamma \xC3\xA9", "delta\ttab", "alpha"};
    for (int i = 0; i < 5; ++i) {
      libtodo::TaskDraft d;
      d.title = titles[i];
      d.description = i % 2 ? std::optional<std::string>("some text") : std::nullopt;
      d.priority = static_cast<libtodo::Priority>(i % 3);
      d.tags = {i % 2 ? "odd" : "even", "all"};
      d.completed = i == 3;
      if (i != 2) d.due_date = libtodo::from_unix_ms(1767225600000 + i * 86400000LL);
      r->create("u", d);
    }
    return r;
  }();
  return *repo;
}

}  // namespace fuzz

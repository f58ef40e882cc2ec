// Task ids: UUIDv7 generation and the canonical form (SPEC §2 `id`).

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <libtodo/time.hpp>
#include <libtodo/uuid.hpp>

namespace {

// The 48-bit Unix millisecond timestamp at the front of a UUIDv7.
std::int64_t embedded_millis(const std::string& id) {
  const std::string hex = id.substr(0, 8) + id.substr(9, 4);
  return static_cast<std::int64_t>(std::stoull(hex, nullptr, 16));
}

}  // namespace

TEST_CASE("new_uuid_v7 has the canonical v7 layout", "[uuid]") {
  for (int i = 0; i < 100; ++i) {
    const std::string id = libtodo::new_uuid_v7();
    INFO(id);
    REQUIRE(id.size() == 36);
    CHECK(id[8] == '-');
    CHECK(id[13] == '-');
    CHECK(id[18] == '-');
    CHECK(id[23] == '-');
    CHECK(id[14] == '7');                                          // version nibble
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);  // variant 10xx
    CHECK(libtodo::is_canonical_uuid(id));
  }
}

TEST_CASE("new_uuid_v7 embeds the current time", "[uuid]") {
  const auto before = libtodo::now_ms().time_since_epoch().count();
  const std::string id = libtodo::new_uuid_v7();
  const auto after = libtodo::now_ms().time_since_epoch().count();
  // An exhausted counter borrows the next milliseconds, so allow a little lead.
  CHECK(embedded_millis(id) >= before);
  CHECK(embedded_millis(id) <= after + 100);
}

TEST_CASE("is_canonical_uuid accepts only lower-case 8-4-4-4-12", "[uuid]") {
  CHECK(libtodo::is_canonical_uuid("0190a0f0-1234-7abc-8def-0123456789ab"));
  CHECK(libtodo::is_canonical_uuid("00000000-0000-0000-0000-000000000000"));
  // Other versions are still well-formed ids (they just never come from this store).
  CHECK(libtodo::is_canonical_uuid("123e4567-e89b-42d3-a456-426614174000"));

  CHECK_FALSE(libtodo::is_canonical_uuid(""));
  CHECK_FALSE(libtodo::is_canonical_uuid("0190A0F0-1234-7ABC-8DEF-0123456789AB"));
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f0-1234-7abc-8def-0123456789aB"));
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f0-1234-7abc-8def-0123456789a"));    // 35
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f0-1234-7abc-8def-0123456789abc"));  // 37
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f012347abc8def0123456789ab"));       // no dashes
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f0-12347-abc-8def-0123456789ab"));   // dash moved
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f0_1234_7abc_8def_0123456789ab"));
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0g0-1234-7abc-8def-0123456789ab"));  // 'g'
  CHECK_FALSE(libtodo::is_canonical_uuid("{0190a0f0-1234-7abc-8def-0123456789a}"));
  CHECK_FALSE(libtodo::is_canonical_uuid("0190a0f0-1234-7abc-8def-01234567 9ab"));
  CHECK_FALSE(libtodo::is_canonical_uuid("' OR '1'='1' -- -1234-7abc-8def-012345"));
}

TEST_CASE("new_uuid_v7 ids are unique and strictly increasing", "[uuid]") {
  constexpr std::size_t n = 10'000;
  std::vector<std::string> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back(libtodo::new_uuid_v7());
  std::size_t out_of_order = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (!(ids[i - 1] < ids[i])) ++out_of_order;
  CHECK(out_of_order == 0);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == n);
}

TEST_CASE("new_uuid_v7 is unique across threads", "[uuid][threads]") {
  constexpr std::size_t threads = 4;
  constexpr std::size_t per_thread = 5'000;
  std::vector<std::vector<std::string>> ids(threads);
  {
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&ids, t] {
        ids[t].reserve(per_thread);
        for (std::size_t i = 0; i < per_thread; ++i) ids[t].push_back(libtodo::new_uuid_v7());
      });
    }
    for (auto& th : pool) th.join();
  }
  std::set<std::string> all;
  std::size_t out_of_order = 0;
  for (const auto& mine : ids) {
    all.insert(mine.begin(), mine.end());
    // Ids one thread sees are still increasing: the generator is one shared sequence.
    for (std::size_t i = 1; i < mine.size(); ++i)
      if (!(mine[i - 1] < mine[i])) ++out_of_order;
  }
  CHECK(all.size() == threads * per_thread);
  CHECK(out_of_order == 0);
}

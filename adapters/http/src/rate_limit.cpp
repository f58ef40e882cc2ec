#include "rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace todo_server {

namespace {

constexpr std::size_t shard_count = 32;

struct Bucket {
  double tokens = 0;
  RateLimiter::Clock::time_point updated;
};

}  // namespace

struct RateLimiter::Shard {
  std::mutex mutex;
  std::unordered_map<std::string, Bucket> buckets;
};

RateLimiter::RateLimiter(RateLimit limit, std::size_t max_keys)
    : limit_(limit),
      max_per_shard_(std::max<std::size_t>(1, max_keys / shard_count)),
      shards_(std::make_unique<Shard[]>(shard_count)) {
  limit_.burst = std::max(1.0, limit_.burst);
}

RateLimiter::~RateLimiter() = default;

RateDecision RateLimiter::take(std::string_view key, Clock::time_point now) {
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % shard_count];
  const double rate = limit_.per_second;
  const double burst = limit_.burst;
  const auto refilled = [&](const Bucket& b) {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    return std::min(burst, b.tokens + std::max(0.0, elapsed) * rate);
  };
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) {
      // A full bucket is the same as none: drop those; if none is full,
      // drop the one that waited longest (it has refilled the most).
      std::erase_if(shard.buckets, [&](const auto& kv) { return refilled(kv.second) >= burst; });
      if (shard.buckets.size() >= max_per_shard_)
        shard.buckets.erase(std::min_element(
            shard.buckets.begin(), shard.buckets.end(),
            [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; }));
    }
    it = shard.buckets.emplace(std::string(key), Bucket{burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = refilled(b);
  b.updated = now;
  RateDecision d;
  d.allowed = b.tokens >= 1.0;
  if (d.allowed) b.tokens -= 1.0;
  d.remaining = static_cast<long long>(std::floor(b.tokens));
  d.reset = static_cast<long long>(std::ceil((burst - b.tokens) / rate));
  if (!d.allowed)
    d.retry_after = std::max(1LL, static_cast<long long>(std::ceil((1.0 - b.tokens) / rate)));
  return d;
}

std::size_t RateLimiter::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    n += shards_[i].buckets.size();
  }
  return n;
}

std::string RateLimiter::policy_item(std::string_view name) const {
  const auto quota = static_cast<long long>(std::floor(limit_.burst));
  const auto window =
      std::max(1LL, static_cast<long long>(std::ceil(limit_.burst / limit_.per_second)));
  return "\"" + std::string(name) + "\";q=" + std::to_string(quota) +
         ";w=" + std::to_string(window);
}

std::string RateLimiter::limit_item(std::string_view name, const RateDecision& d) {
  return "\"" + std::string(name) + "\";r=" + std::to_string(d.remaining) +
         ";t=" + std::to_string(d.reset);
}

}  // namespace todo_server

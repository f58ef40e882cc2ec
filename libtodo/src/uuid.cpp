#include <libtodo/uuid.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <random>

#include <libtodo/time.hpp>

namespace libtodo {
namespace {

// RFC 9562 §6.2 method 1: a 12-bit counter in rand_a keeps ids made within
// one millisecond in order; the 62 bits of rand_b stay random.
class Generator {
 public:
  std::array<std::uint8_t, 16> next() {
    std::array<std::uint8_t, 16> b{};
    std::uint64_t ms = 0;
    std::uint16_t seq = 0;
    std::uint64_t rand_b = 0;
    {
      std::lock_guard lock(mutex_);
      ms = static_cast<std::uint64_t>(now_ms().time_since_epoch().count());
      if (ms > last_ms_) {
        last_ms_ = ms;
        seq_ = static_cast<std::uint16_t>(rng_() & 0x1FF);  // leave room to count up
      } else if (++seq_ > 0xFFF) {
        ++last_ms_;  // counter exhausted: borrow the next millisecond
        seq_ = 0;
      }
      ms = last_ms_;
      seq = seq_;
      rand_b = rng_();
    }
    for (int i = 0; i < 6; ++i) b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    b[6] = static_cast<std::uint8_t>(0x70 | ((seq >> 8) & 0x0F));
    b[7] = static_cast<std::uint8_t>(seq & 0xFF);
    for (int i = 0; i < 8; ++i) b[8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rand_b >> (56 - 8 * i));
    b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));  // variant 10
    return b;
  }

 private:
  std::mutex mutex_;
  std::uint64_t last_ms_ = 0;
  std::uint16_t seq_ = 0;
  std::mt19937_64 rng_{seed()};

  static std::uint64_t seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
};

bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

std::string new_uuid_v7() {
  static Generator generator;
  const auto b = generator.next();
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[b[i] >> 4];
    s += hex[b[i] & 0x0F];
  }
  return s;
}

bool is_canonical_uuid(std::string_view s) noexcept {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!is_lower_hex(s[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace libtodo

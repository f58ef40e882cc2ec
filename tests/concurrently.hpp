#pragma once
// Races for tests: f(0), ..., f(n - 1) on n threads that start together.

#include <atomic>
#include <thread>
#include <vector>

namespace test {

template <class F>
void run_concurrently(int n, F&& f) {
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    pool.emplace_back([&go, &f, i] {
      while (!go.load()) std::this_thread::yield();
      f(i);
    });
  go = true;
  for (auto& t : pool) t.join();
}

}  // namespace test

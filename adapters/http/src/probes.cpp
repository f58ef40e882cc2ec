#include "probes.hpp"

#include <exception>

namespace todo_server {

ReadinessProbe::ReadinessProbe(std::function<void()> check)
    : check_(std::move(check)), worker_([this] { loop(); }) {}

ReadinessProbe::~ReadinessProbe() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::optional<std::string> ReadinessProbe::check(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  // A check that began before this call may have seen an older state; wait
  // for one that begins after it.
  const unsigned long long mine = ++requested_;
  cv_.notify_all();
  if (!cv_.wait_for(lock, timeout, [&] { return finished_ >= mine; }))
    return "the database did not answer within " + std::to_string(timeout.count()) + " ms";
  return result_;
}

void ReadinessProbe::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || requested_ > started_; });
    if (stop_) return;
    started_ = requested_;
    lock.unlock();
    std::optional<std::string> outcome;
    try {
      check_();
    } catch (const std::exception& e) {
      outcome = e.what();
    } catch (...) {
      outcome = "unknown failure";
    }
    lock.lock();
    result_ = std::move(outcome);
    finished_ = started_;
    cv_.notify_all();
  }
}

}  // namespace todo_server

// WriterPool: the import's object-writing threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "util/error_info.h"

namespace oc {

// Small content objects are written by a few threads while the reader goes on decoding the
// stream (libostree takes concurrent writes within one transaction; pull does the same).
// A job's failure is kept and rethrown by Check()/Wait() on the reader's thread.
class WriterPool {
 public:
  explicit WriterPool(unsigned n) {
    try {
      for (unsigned i = 0; i < n; i++) threads_.emplace_back([this] { Run(); });
    } catch (...) {
      Stop();
      throw;
    }
  }
  ~WriterPool() { Stop(); }

  // Queues `job` (blocks while the queue is full); dropped once a job has failed.
  void Submit(std::function<void()> job) {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait(lk, [&] { return q_.size() < kMaxQueued || failure_ || stop_; });
    if (failure_ || stop_) return;
    q_.push_back(std::move(job));
    cv_.notify_all();
  }

  void Check() {
    std::lock_guard<std::mutex> lk(m_);
    if (failure_) throw Failure(*failure_);
  }

  // All queued jobs done (or one failed).
  void Wait() {
    {
      std::unique_lock<std::mutex> lk(m_);
      cv_.wait(lk, [&] { return (q_.empty() && running_ == 0) || failure_; });
    }
    Check();
  }

  // Drops queued jobs and joins the threads (running jobs finish first).
  void Stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      q_.clear();
    }
    cv_.notify_all();
    for (auto &t : threads_) t.join();
    threads_.clear();
  }

 private:
  static constexpr size_t kMaxQueued = 64;  // ≤ 64 × 127 KiB in memory

  void Run();

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  size_t running_ = 0;
  bool stop_ = false;
  std::unique_ptr<Failure> failure_;
  std::vector<std::thread> threads_;
};

}  // namespace oc

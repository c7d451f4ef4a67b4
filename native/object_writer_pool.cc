#include "object_writer_pool.h"

#include "util/errors.h"

namespace oc {

void WriterPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lk(m_);
      cv_.wait(lk, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;
      job = std::move(q_.front());
      q_.pop_front();
      running_++;
    }
    std::unique_ptr<Failure> failed;
    try {
      job();
    } catch (...) {
      failed = std::make_unique<Failure>(CurrentExceptionInfo());
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      running_--;
      if (failed && !failure_) failure_ = std::move(failed);
    }
    cv_.notify_all();
  }
}

}  // namespace oc

#include "io/prefetch.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "scheduler.h"
#include "util/error_info.h"
#include "util/sha256.h"

namespace oc {

struct PrefetchSource::Impl {
  static constexpr size_t kBlock = 256 * 1024;
  // 1 MiB ahead per layer: 16 blocks (with 64 queued writes in import.cc) were no faster and cost a
  // pull ~15 MiB of peak RSS (issue 19).
  static constexpr size_t kMaxQueued = 4;
  ByteSource &in;
  FdSource &raw;
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::vector<uint8_t>> q;
  std::vector<std::vector<uint8_t>> spare;
  std::vector<uint8_t> cur;
  size_t cur_pos = 0;
  bool eof = false;
  bool stop = false;
  std::unique_ptr<Failure> failure;
  Sha256 hash;
  uint64_t size = 0;
  SlotLease lease{1};
  JobSet thread;  // last: joined first
  bool threaded = false;

  // Ahead on a thread of its own when the budget has a slot for it; inline otherwise.
  Impl(ByteSource &i, FdSource &r) : in(i), raw(r) { threaded = lease.count() && thread.Start([this] { Run(); }); }

  void Run() {
    try {
      for (;;) {
        std::vector<uint8_t> block;
        {
          // recycled blocks: fresh 256 KiB buffers would each be mmapped and faulted in
          std::lock_guard<std::mutex> lk(m);
          if (!spare.empty()) {
            block = std::move(spare.back());
            spare.pop_back();
          }
        }
        block.resize(kBlock);
        size_t got = 0;
        while (got < kBlock) {
          size_t r = in.Read(block.data() + got, kBlock - got);
          if (r == 0) break;
          got += r;
        }
        block.resize(got);
        hash.Update(block.data(), got);
        size += got;
        std::unique_lock<std::mutex> lk(m);
        if (got == 0) {
          eof = true;
          cv.notify_all();
          return;
        }
        cv.wait(lk, [&] { return stop || q.size() < kMaxQueued; });
        if (stop) return;
        q.push_back(std::move(block));
        cv.notify_all();
      }
    } catch (...) {
      ErrorInfo info = CurrentExceptionInfo();
      std::lock_guard<std::mutex> lk(m);
      failure = std::make_unique<Failure>(std::move(info));
      cv.notify_all();
    }
  }
};

PrefetchSource::PrefetchSource(ByteSource &in, FdSource &raw) : impl_(std::make_unique<Impl>(in, raw)) {}

PrefetchSource::~PrefetchSource() {
  {
    std::lock_guard<std::mutex> lk(impl_->m);
    impl_->stop = true;
  }
  impl_->raw.Stop();
  impl_->cv.notify_all();
  impl_->thread.Join();
}

size_t PrefetchSource::Read(uint8_t *p, size_t n) {
  Impl &s = *impl_;
  if (!s.threaded) {
    size_t r = s.in.Read(p, n);
    s.hash.Update(p, r);
    s.size += r;
    if (r == 0 && diff_id_.empty()) {
      diff_id_ = s.hash.Hex();
      size_ = s.size;
    }
    return r;
  }
  if (s.cur_pos == s.cur.size()) {
    std::unique_lock<std::mutex> lk(s.m);
    s.cv.wait(lk, [&] { return !s.q.empty() || s.eof || s.failure; });
    if (s.q.empty()) {
      if (s.failure) throw Failure(*s.failure);
      // eof: the producer has finished hashing.
      if (diff_id_.empty()) {
        diff_id_ = s.hash.Hex();
        size_ = s.size;
      }
      return 0;
    }
    if (s.cur.capacity()) s.spare.push_back(std::move(s.cur));
    s.cur = std::move(s.q.front());
    s.q.pop_front();
    s.cur_pos = 0;
    s.cv.notify_all();
  }
  size_t take = std::min(n, s.cur.size() - s.cur_pos);
  memcpy(p, s.cur.data() + s.cur_pos, take);
  s.cur_pos += take;
  return take;
}

}  // namespace oc

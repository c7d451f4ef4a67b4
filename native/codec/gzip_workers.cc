#include "codec/gzip_workers.h"

#include <libdeflate.h>

#include <algorithm>

#include "codec/deflate_scan.h"

namespace oc {

namespace {

// Deflates one block; every block but the stream's last is made non-final (deflate_scan.h) so
// the blocks join into one deflate stream.
bool Deflate(libdeflate_compressor *c, GzipJob &job) {
  job.out.resize(libdeflate_deflate_compress_bound(c, job.in.size()));
  size_t n = libdeflate_deflate_compress(c, job.in.data(), job.in.size(), job.out.data(), job.out.size());
  if (n == 0) return false;
  job.out.resize(n);
  job.crc = crc32(0L, job.in.data(), static_cast<uInt>(job.in.size()));
  return job.last || MakeNonFinal(job.out);
}

}  // namespace

GzipWorkers::GzipWorkers(unsigned threads) {
  try {
    for (unsigned i = 0; i < threads; i++) workers_.emplace_back([this] { Work(); });
  } catch (...) {
    Stop();  // joins the workers already started
    throw;
  }
}

GzipWorkers::~GzipWorkers() { Stop(); }

std::shared_ptr<GzipJob> GzipWorkers::NewJob(size_t reserve) {
  std::shared_ptr<GzipJob> job;
  {
    std::lock_guard<std::mutex> lk(m_);
    if (!spare_.empty()) {
      job = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (!job) {
    job = std::make_shared<GzipJob>();
    job->in.reserve(reserve);
  }
  job->in.clear();
  job->last = job->done = job->failed = false;
  return job;
}

void GzipWorkers::Recycle(std::shared_ptr<GzipJob> job) {
  std::lock_guard<std::mutex> lk(m_);
  spare_.push_back(std::move(job));
}

void GzipWorkers::Submit(std::shared_ptr<GzipJob> job) {
  {
    std::lock_guard<std::mutex> lk(m_);
    todo_.push_back(std::move(job));
  }
  work_cv_.notify_one();
}

bool GzipWorkers::Done(const GzipJob &job) {
  std::lock_guard<std::mutex> lk(m_);
  return job.done;
}

void GzipWorkers::Wait(const GzipJob &job) {
  std::unique_lock<std::mutex> lk(m_);
  done_cv_.wait(lk, [&] { return job.done; });
}

void GzipWorkers::Drop(const std::deque<std::shared_ptr<GzipJob>> &jobs) {
  std::lock_guard<std::mutex> lk(m_);
  for (const auto &j : jobs) todo_.erase(std::remove(todo_.begin(), todo_.end(), j), todo_.end());
}

void GzipWorkers::Work() {
  libdeflate_compressor *by_level[13] = {};  // levels 1-12, made on first use
  for (;;) {
    std::shared_ptr<GzipJob> job;
    {
      std::unique_lock<std::mutex> lk(m_);
      work_cv_.wait(lk, [&] { return stop_ || !todo_.empty(); });
      if (todo_.empty()) break;
      job = std::move(todo_.front());
      todo_.pop_front();
    }
    bool ok;
    try {  // a worker must not end in std::terminate: bad_alloc marks the block failed
      libdeflate_compressor *&c = by_level[std::clamp(job->level, 1, 12)];
      if (!c) c = libdeflate_alloc_compressor(job->level);
      ok = c && Deflate(c, *job);
    } catch (...) {
      ok = false;
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      job->failed = !ok;
      job->done = true;
    }
    done_cv_.notify_all();
  }
  for (auto *c : by_level)
    if (c) libdeflate_free_compressor(c);
}

void GzipWorkers::Stop() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
    todo_.clear();
  }
  work_cv_.notify_all();
  for (auto &t : workers_) t.join();
  workers_.clear();
}

}  // namespace oc

// The deflate worker threads of the gzip encoder: jobs (1 MiB blocks of any gzip stream) run in
// submission order; finished jobs' buffers are recycled. Jobs are shared so a stream that fails
// may simply drop its own.
#pragma once

#include <zlib.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace oc {

struct GzipJob {
  std::vector<uint8_t> in, out;
  int level = 6;
  bool last = false;
  uLong crc = 0;
  bool done = false;
  bool failed = false;
};

class GzipWorkers {
 public:
  explicit GzipWorkers(unsigned threads);
  ~GzipWorkers();

  // Recycled jobs and buffers: fresh 1 MiB buffers per block cost a page fault per 4 KiB
  // (glibc serves them by mmap), which serialises the threads on the mm lock.
  std::shared_ptr<GzipJob> NewJob(size_t reserve);
  void Recycle(std::shared_ptr<GzipJob> job);
  void Submit(std::shared_ptr<GzipJob> job);
  bool Done(const GzipJob &job);
  void Wait(const GzipJob &job);
  // Unqueues the jobs of a stream that gives up (the running ones finish on their own).
  void Drop(const std::deque<std::shared_ptr<GzipJob>> &jobs);

 private:
  void Work();
  void Stop();

  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::shared_ptr<GzipJob>> todo_;
  std::vector<std::shared_ptr<GzipJob>> spare_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace oc

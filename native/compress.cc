#include "compress.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <memory>

#include "deflate_scan.h"
#include "util/errors.h"

namespace oc {

FdSink::FdSink(int fd, GCancellable *cancellable) : fd_(fd), cancellable_(cancellable) {
  struct stat st;
  if (fstat(fd_, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
    int sz = S_ISFIFO(st.st_mode) ? fcntl(fd_, F_GETPIPE_SZ) : -1;
    pipe_size_ = sz > 0 ? static_cast<size_t>(sz) : PIPE_BUF;
  }
}

// Regular files: plain write(). Pipes and sockets: wait for room with poll() and write no more
// than fits, so a stalled reader cannot keep a cancelled export blocked in write().
void FdSink::Write(const uint8_t *p, size_t n) {
  hash_.Update(p, n);
  size_ += n;
  while (n > 0) {
    size_t chunk = n;
    if (pipe_size_) {
      struct pollfd pfd{fd_, POLLOUT, 0};
      int pr = ::poll(&pfd, 1, 200);
      CheckCancelled(cancellable_);
      if (pr < 0 && errno != EINTR) FailErrno("Writing layer", errno);
      if (pr <= 0) continue;
      int queued = 0;
      size_t room = PIPE_BUF;  // what POLLOUT promises
      if (pipe_size_ > PIPE_BUF && ioctl(fd_, FIONREAD, &queued) == 0 && static_cast<size_t>(queued) < pipe_size_)
        room = std::max<size_t>(room, pipe_size_ - static_cast<size_t>(queued));
      chunk = std::min(n, room);
    }
    ssize_t w = ::write(fd_, p, chunk);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      FailErrno("Writing layer", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  CheckCancelled(cancellable_);
}

Compression ParseCompression(const std::string &name) {
  if (name == "gzip") return Compression::Gzip;
  if (name == "gzip-fast") return Compression::GzipFast;
  if (name == "zstd") return Compression::Zstd;
  if (name == "none") return Compression::None;
  Fail("Unknown compression '" + name + "' (expected gzip, gzip-fast, zstd or none)", "INVALID_ARGUMENT");
}

const char *MediaTypeOf(Compression c) {
  switch (c) {
    case Compression::None: return "application/vnd.oci.image.layer.v1.tar";
    case Compression::Gzip:
    case Compression::GzipFast: return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::Zstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "";
}

Compression CompressionOfMediaType(const std::string &mt) {
  if (mt == "application/vnd.oci.image.layer.v1.tar" ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar")
    return Compression::None;
  if (mt == "application/vnd.oci.image.layer.v1.tar+gzip" ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
      mt == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
    return Compression::Gzip;
  if (mt == "application/vnd.oci.image.layer.v1.tar+zstd" ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" ||
      mt == "application/vnd.docker.image.rootfs.diff.tar.zstd")
    return Compression::Zstd;
  Fail("Unhandled layer type: " + mt, "NOT_SUPPORTED");  // upstream's text
}

namespace {

class PlainSink : public ByteSink {
 public:
  explicit PlainSink(ByteSink &out) : out_(out) {}
  void Write(const uint8_t *p, size_t n) override { out_.Write(p, n); }
  void Finish() override { out_.Finish(); }

 private:
  ByteSink &out_;
};

// Deflate workers: jobs (1 MiB blocks of any gzip stream) run in submission order; finished
// jobs' buffers are recycled. Jobs are shared so a stream that fails may simply drop its own.
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
  explicit GzipWorkers(unsigned threads) {
    try {
      for (unsigned i = 0; i < threads; i++) workers_.emplace_back([this] { Work(); });
    } catch (...) {
      Stop();  // joins the workers already started
      throw;
    }
  }
  ~GzipWorkers() { Stop(); }

  // Recycled jobs and buffers: fresh 1 MiB buffers per block cost a page fault per 4 KiB
  // (glibc serves them by mmap), which serialises the threads on the mm lock.
  std::shared_ptr<GzipJob> NewJob(size_t reserve) {
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

  void Recycle(std::shared_ptr<GzipJob> job) {
    std::lock_guard<std::mutex> lk(m_);
    spare_.push_back(std::move(job));
  }

  void Submit(std::shared_ptr<GzipJob> job) {
    {
      std::lock_guard<std::mutex> lk(m_);
      todo_.push_back(std::move(job));
    }
    work_cv_.notify_one();
  }

  bool Done(const GzipJob &job) {
    std::lock_guard<std::mutex> lk(m_);
    return job.done;
  }

  void Wait(const GzipJob &job) {
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return job.done; });
  }

  // Unqueues the jobs of a stream that gives up (the running ones finish on their own).
  void Drop(const std::deque<std::shared_ptr<GzipJob>> &jobs) {
    std::lock_guard<std::mutex> lk(m_);
    for (const auto &j : jobs) todo_.erase(std::remove(todo_.begin(), todo_.end(), j), todo_.end());
  }

 private:
  static bool Deflate(libdeflate_compressor *c, GzipJob &job) {
    job.out.resize(libdeflate_deflate_compress_bound(c, job.in.size()));
    size_t n = libdeflate_deflate_compress(c, job.in.data(), job.in.size(), job.out.data(), job.out.size());
    if (n == 0) return false;
    job.out.resize(n);
    job.crc = crc32(0L, job.in.data(), static_cast<uInt>(job.in.size()));
    return job.last || MakeNonFinal(job.out);
  }

  void Work() {
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

  void Stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      todo_.clear();
    }
    work_cv_.notify_all();
    for (auto &t : workers_) t.join();
    workers_.clear();
  }

  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::shared_ptr<GzipJob>> todo_;
  std::vector<std::shared_ptr<GzipJob>> spare_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// One gzip member, compressed in parallel: the input is cut into kBlock blocks, each deflated
// independently by libdeflate on a worker; every block but the last is then made non-final and
// byte-aligned (MakeNonFinal: final bit cleared, empty stored block appended, as zlib's
// Z_SYNC_FLUSH ends a block) so the pieces join into one deflate stream. Blocks are written in
// order and their CRCs combined. A single member matters: upstream reads layers with flate2's
// GzDecoder, which stops after the first member.
class GzipBlockSink : public ByteSink {
 public:
  // `shared` workers, or `threads` of its own.
  GzipBlockSink(int level, unsigned threads, ByteSink &out, GzipWorkers *shared)
      : level_(level), out_(out), max_inflight_(2 * threads + 1) {
    if (!shared) own_ = std::make_unique<GzipWorkers>(threads);
    workers_ = shared ? shared : own_.get();
    cur_ = workers_->NewJob(kBlock);
  }
  ~GzipBlockSink() override { workers_->Drop(order_); }

  void Write(const uint8_t *p, size_t n) override {
    while (n > 0) {
      // A full block is only submitted once more input arrives: the last block must finish.
      if (cur_->in.size() == kBlock) Submit(false);
      size_t take = std::min(n, kBlock - cur_->in.size());
      cur_->in.insert(cur_->in.end(), p, p + take);
      p += take;
      n -= take;
    }
  }

  void Finish() override {
    Submit(true);
    Drain(0);
    uint8_t trailer[8];
    for (int i = 0; i < 4; i++) trailer[i] = static_cast<uint8_t>(crc_ >> (8 * i));
    for (int i = 0; i < 4; i++) trailer[4 + i] = static_cast<uint8_t>(total_ >> (8 * i));
    out_.Write(trailer, sizeof trailer);
    out_.Finish();
  }

 private:
  static constexpr size_t kBlock = 1024 * 1024;

  void Submit(bool last) {
    std::shared_ptr<GzipJob> job = std::move(cur_);
    job->last = last;
    job->level = level_;
    order_.push_back(job);
    workers_->Submit(std::move(job));
    if (!last) cur_ = workers_->NewJob(kBlock);
    Drain(max_inflight_);
  }

  // Writes finished blocks in order until at most `keep` remain in flight.
  void Drain(size_t keep) {
    while (!order_.empty()) {
      if (order_.size() <= keep && !workers_->Done(*order_.front())) return;
      workers_->Wait(*order_.front());
      std::shared_ptr<GzipJob> front = std::move(order_.front());
      order_.pop_front();
      if (front->failed) Fail("gzip: compression failed");
      if (!header_written_) {
        // RFC 1952 header as flate2 writes it: no name, MTIME 0, XFL by level, OS unknown (255).
        const uint8_t xfl = level_ >= 9 ? 2 : level_ <= 1 ? 4 : 0;
        const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff};
        out_.Write(header, sizeof header);
        header_written_ = true;
      }
      crc_ = crc32_combine64(crc_, front->crc, static_cast<z_off64_t>(front->in.size()));
      total_ += front->in.size();
      out_.Write(front->out.data(), front->out.size());
      workers_->Recycle(std::move(front));
    }
  }

  int level_;
  ByteSink &out_;
  size_t max_inflight_;
  std::unique_ptr<GzipWorkers> own_;
  GzipWorkers *workers_;
  std::shared_ptr<GzipJob> cur_;
  std::deque<std::shared_ptr<GzipJob>> order_;  // submitted, not yet written
  bool header_written_ = false;
  uLong crc_ = crc32(0L, Z_NULL, 0);
  uint64_t total_ = 0;
};

// zstd contexts kept by the pool between layers (same level and worker count), with their
// buffers and worker threads. Not a shared ZSTD_threadPool: freeing a context whose frame failed
// midway does not wait for its jobs on a pool it does not own (zstd 1.5 ZSTDMT_freeCCtx).
struct ZstdContexts {
  struct Entry {
    ZSTD_CCtx *cctx;
    int level;
    unsigned threads;
  };
  std::mutex m;
  std::vector<Entry> idle;
  ~ZstdContexts() {
    for (auto &e : idle) ZSTD_freeCCtx(e.cctx);
  }
};

class ZstdSink : public ByteSink {
 public:
  static constexpr int kJobSize = 2 * 1024 * 1024;
  ZstdSink(int level, unsigned threads, ByteSink &out, ZstdContexts *shared)
      : out_(out), shared_(shared), level_(level), threads_(std::max(1u, threads)) {
    if (shared_) {
      std::lock_guard<std::mutex> lk(shared_->m);
      for (auto it = shared_->idle.begin(); it != shared_->idle.end(); ++it) {
        if (it->level == level_ && it->threads == threads_) {
          cctx_ = it->cctx;
          shared_->idle.erase(it);
          break;
        }
      }
    }
    if (!cctx_) cctx_ = Create();
    outbuf_.resize(ZSTD_CStreamOutSize());
  }
  ~ZstdSink() override {
    if (shared_ && finished_) {
      // A finished frame (all jobs done) leaves the context ready for the next one, as a new
      // one would be; a failed one is freed, which waits for its jobs.
      std::lock_guard<std::mutex> lk(shared_->m);
      shared_->idle.push_back({cctx_, level_, threads_});
    } else {
      ZSTD_freeCCtx(cctx_);
    }
  }

  void Write(const uint8_t *p, size_t n) override {
    ZSTD_inBuffer in{p, n, 0};
    while (in.pos < in.size) Step(&in, ZSTD_e_continue);
  }

  void Finish() override {
    ZSTD_inBuffer in{nullptr, 0, 0};
    while (Step(&in, ZSTD_e_end) != 0) {
    }
    finished_ = true;
    out_.Finish();
  }

 private:
  ZSTD_CCtx *Create() {
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) Fail("zstd: out of memory");
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level_);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    // nbWorkers ≥ 1 always: the output is then the same for any worker count.
    ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, static_cast<int>(threads_));
    // Fixed job size: bounds memory (the default for level 3 is 8 MiB per job and buffer) and,
    // being fixed, keeps the output independent of everything but the input.
    ZSTD_CCtx_setParameter(c, ZSTD_c_jobSize, kJobSize);
    return c;
  }

  size_t Step(ZSTD_inBuffer *in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{outbuf_.data(), outbuf_.size(), 0};
    size_t r = ZSTD_compressStream2(cctx_, &out, in, mode);
    if (ZSTD_isError(r)) Fail(std::string("zstd: ") + ZSTD_getErrorName(r));
    if (out.pos) out_.Write(outbuf_.data(), out.pos);
    return r;
  }

  ByteSink &out_;
  ZstdContexts *shared_;
  int level_;
  unsigned threads_;
  ZSTD_CCtx *cctx_ = nullptr;
  bool finished_ = false;
  std::vector<uint8_t> outbuf_;
};

}  // namespace

struct CompressorPool::Impl {
  unsigned threads;
  std::mutex m;
  std::unique_ptr<GzipWorkers> gzip;  // started by the first gzip layer
  ZstdContexts zstd;
  GzipWorkers *Gzip() {
    std::lock_guard<std::mutex> lk(m);
    if (!gzip) gzip = std::make_unique<GzipWorkers>(threads);
    return gzip.get();
  }
};

CompressorPool::CompressorPool(unsigned threads) : impl_(std::make_unique<Impl>()) {
  impl_->threads = std::max(1u, threads);
}

CompressorPool::~CompressorPool() = default;

std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level, CompressorPool *pool) {
  threads = std::max(1u, threads);
  switch (c) {
    case Compression::None: return std::make_unique<PlainSink>(out);
    case Compression::Gzip:
      return std::make_unique<GzipBlockSink>(level ? level : 6, threads, out, pool ? pool->impl().Gzip() : nullptr);
    case Compression::GzipFast:
      return std::make_unique<GzipBlockSink>(level ? level : 1, threads, out, pool ? pool->impl().Gzip() : nullptr);
    case Compression::Zstd:
      return std::make_unique<ZstdSink>(level ? level : 3, threads, out, pool ? &pool->impl().zstd : nullptr);
  }
  return nullptr;
}

void LayerOutput::Write(const uint8_t *p, size_t n) {
  if (n >= kBuf) {
    Flush();
    hash_.Update(p, n);
    size_ += n;
    next_.Write(p, n);
    return;
  }
  if (buf_.size() + n > kBuf) Flush();
  buf_.insert(buf_.end(), p, p + n);
}

void LayerOutput::Flush() {
  if (buf_.empty()) return;
  hash_.Update(buf_.data(), buf_.size());
  size_ += buf_.size();
  next_.Write(buf_.data(), buf_.size());
  buf_.clear();
}

void LayerOutput::Finish() {
  Flush();
  next_.Finish();
}

size_t FdSource::Read(uint8_t *p, size_t n) {
  for (;;) {
    CheckCancelled(cancellable_);
    if (stop_) return 0;
    struct pollfd pfd{fd_, POLLIN, 0};
    int pr = ::poll(&pfd, 1, 200);
    if (pr < 0 && errno != EINTR) FailErrno("Reading layer", errno);
    if (pr <= 0) continue;
    ssize_t r = ::read(fd_, p, n);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      FailErrno("Reading layer", errno);
    }
    hash_.Update(p, static_cast<size_t>(r));
    size_ += static_cast<size_t>(r);
    if (published_) __atomic_store_n(published_, size_, __ATOMIC_RELAXED);
    return static_cast<size_t>(r);
  }
}

namespace {

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(ByteSource &in) : in_(in) {}
  size_t Read(uint8_t *p, size_t n) override { return in_.Read(p, n); }

 private:
  ByteSource &in_;
};

// zlib inflate over one or more concatenated gzip members.
class GunzipSource : public ByteSource {
 public:
  explicit GunzipSource(ByteSource &in) : in_(in), inbuf_(256 * 1024) {
    memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) Fail("gzip: inflateInit failed");
  }
  ~GunzipSource() override { inflateEnd(&zs_); }

  size_t Read(uint8_t *p, size_t n) override {
    if (finished_) return 0;
    zs_.next_out = p;
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    for (;;) {
      if (zs_.avail_in == 0) {
        size_t r = in_.Read(inbuf_.data(), inbuf_.size());
        if (r == 0) {
          if (member_done_) {
            finished_ = true;
            return 0;
          }
          Fail("Decompressing gzip: unexpected end of stream (truncated layer?)");
        }
        zs_.next_in = inbuf_.data();
        zs_.avail_in = static_cast<uInt>(r);
      }
      if (member_done_) {
        // Another member follows: it must be gzip again, not trailing garbage.
        if (zs_.next_in[0] != 0x1f) Fail("Decompressing gzip: trailing garbage after gzip stream");
        inflateReset(&zs_);
        member_done_ = false;
      }
      int r = inflate(&zs_, Z_NO_FLUSH);
      if (r == Z_STREAM_END) {
        member_done_ = true;
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        Fail(std::string("Decompressing gzip: ") + (zs_.msg ? zs_.msg : "invalid data"));
      }
      if (zs_.next_out != p) break;
    }
    return static_cast<size_t>(zs_.next_out - p);
  }

 private:
  ByteSource &in_;
  std::vector<uint8_t> inbuf_;
  z_stream zs_;
  bool member_done_ = false;
  bool finished_ = false;
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(ByteSource &in) : in_(in), dctx_(ZSTD_createDCtx()), inbuf_(ZSTD_DStreamInSize()) {
    if (!dctx_) Fail("zstd: out of memory");
  }
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  size_t Read(uint8_t *p, size_t n) override {
    ZSTD_outBuffer out{p, n, 0};
    while (out.pos == 0) {
      if (in_pos_ == in_len_) {
        in_len_ = in_.Read(inbuf_.data(), inbuf_.size());
        in_pos_ = 0;
        if (in_len_ == 0) {
          if (frame_open_) Fail("Decompressing zstd: unexpected end of stream (truncated layer?)");
          return 0;
        }
      }
      ZSTD_inBuffer in{inbuf_.data(), in_len_, in_pos_};
      size_t r = ZSTD_decompressStream(dctx_, &out, &in);
      in_pos_ = in.pos;
      if (ZSTD_isError(r)) Fail(std::string("Decompressing zstd: ") + ZSTD_getErrorName(r));
      frame_open_ = r != 0;
    }
    return out.pos;
  }

 private:
  ByteSource &in_;
  ZSTD_DCtx *dctx_;
  std::vector<uint8_t> inbuf_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool frame_open_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> MakeDecompressor(Compression c, ByteSource &in) {
  switch (c) {
    case Compression::None: return std::make_unique<PlainSource>(in);
    case Compression::Gzip:
    case Compression::GzipFast: return std::make_unique<GunzipSource>(in);
    case Compression::Zstd: return std::make_unique<ZstdSource>(in);
  }
  return nullptr;
}

struct PrefetchSource::Impl {
  static constexpr size_t kBlock = 256 * 1024;
  static constexpr size_t kMaxQueued = 16;
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
  std::thread th;

  Impl(ByteSource &i, FdSource &r) : in(i), raw(r) { th = std::thread([this] { Run(); }); }

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
  impl_->th.join();
}

size_t PrefetchSource::Read(uint8_t *p, size_t n) {
  Impl &s = *impl_;
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

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
#include <memory>

#include "deflate_scan.h"
#include "scheduler.h"
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

// One 1 MiB block of a gzip stream and its deflated bytes. Blocks are recycled: fresh 1 MiB
// buffers per block cost a page fault per 4 KiB (glibc serves them by mmap), which serialises
// the threads on the mm lock.
struct GzipBlock {
  std::vector<uint8_t> in, out;
  bool last = false;
  bool ok = false;
  uLong crc = 0;
};

// The gzip blocks in flight in the whole process, whatever the number of streams: each holds a
// credit; a stream with none in flight may always have one (so none waits on another).
class GzipBlockBudget {
 public:
  static GzipBlockBudget &Get() {
    static GzipBlockBudget *b = new GzipBlockBudget();  // used by detached threads until exit
    return *b;
  }
  // Two blocks per thread of the budget keep every thread busy while finished ones are written.
  static size_t Limit() { return 2 * static_cast<size_t>(Scheduler::Get().Concurrency()) + 2; }

  bool TryTake() {
    std::lock_guard<std::mutex> lk(m_);
    if (inflight_ >= Limit()) return false;
    inflight_++;
    return true;
  }
  void Give() {
    std::lock_guard<std::mutex> lk(m_);
    inflight_--;
  }
  std::unique_ptr<GzipBlock> NewBlock(size_t reserve) {
    std::unique_ptr<GzipBlock> b;
    {
      std::lock_guard<std::mutex> lk(m_);
      if (!spare_.empty()) {
        b = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (!b) {
      b = std::make_unique<GzipBlock>();
      b->in.reserve(reserve);
    }
    b->in.clear();
    b->last = b->ok = false;
    return b;
  }
  void Recycle(std::unique_ptr<GzipBlock> b) {
    std::lock_guard<std::mutex> lk(m_);
    if (spare_.size() < Limit()) spare_.push_back(std::move(b));
  }

 private:
  std::mutex m_;
  size_t inflight_ = 0;
  std::vector<std::unique_ptr<GzipBlock>> spare_;
};

// libdeflate compressors by level, one set per thread that compresses (workers and helpers).
libdeflate_compressor *CompressorFor(int level) {
  struct Cache {
    libdeflate_compressor *by_level[13] = {};
    ~Cache() {
      for (auto *c : by_level)
        if (c) libdeflate_free_compressor(c);
    }
  };
  thread_local Cache cache;
  libdeflate_compressor *&c = cache.by_level[std::clamp(level, 1, 12)];
  if (!c) c = libdeflate_alloc_compressor(level);
  return c;
}

void DeflateBlock(GzipBlock &b, int level) {
  libdeflate_compressor *c = CompressorFor(level);
  if (!c) return;  // ok stays false
  b.out.resize(libdeflate_deflate_compress_bound(c, b.in.size()));
  size_t n = libdeflate_deflate_compress(c, b.in.data(), b.in.size(), b.out.data(), b.out.size());
  if (n == 0) return;
  b.out.resize(n);
  b.crc = crc32(0L, b.in.data(), static_cast<uInt>(b.in.size()));
  b.ok = b.last || MakeNonFinal(b.out);
}

// One gzip member, compressed in parallel: the input is cut into kBlock blocks, each deflated
// independently by libdeflate as a task of the scheduler; every block but the last is then made
// non-final and byte-aligned (MakeNonFinal: final bit cleared, empty stored block appended, as
// zlib's Z_SYNC_FLUSH ends a block) so the pieces join into one deflate stream. Blocks are
// written in order and their CRCs combined. A single member matters: upstream reads layers with
// flate2's GzDecoder, which stops after the first member.
class GzipBlockSink : public ByteSink {
 public:
  GzipBlockSink(int level, ByteSink &out) : level_(level), out_(out), cur_(GzipBlockBudget::Get().NewBlock(kBlock)) {}
  ~GzipBlockSink() override {
    // A stream that failed: its queued blocks are dropped, running ones finish before the
    // entries (and their credits) go.
    tasks_.Stop();
  }

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
    while (!order_.empty()) WriteFront();
    uint8_t trailer[8];
    for (int i = 0; i < 4; i++) trailer[i] = static_cast<uint8_t>(crc_ >> (8 * i));
    for (int i = 0; i < 4; i++) trailer[4 + i] = static_cast<uint8_t>(total_ >> (8 * i));
    out_.Write(trailer, sizeof trailer);
    out_.Finish();
  }

 private:
  static constexpr size_t kBlock = 1024 * 1024;

  struct Entry {
    std::shared_ptr<Task> task;
    std::unique_ptr<GzipBlock> block;
    bool credit;
    Entry(std::shared_ptr<Task> t, std::unique_ptr<GzipBlock> b, bool c) : task(std::move(t)), block(std::move(b)), credit(c) {}
    Entry(Entry &&) = default;
    ~Entry() {
      if (credit) GzipBlockBudget::Get().Give();
      if (block) GzipBlockBudget::Get().Recycle(std::move(block));
    }
  };

  void Submit(bool last) {
    GzipBlockBudget &budget = GzipBlockBudget::Get();
    bool credit = budget.TryTake();
    while (!credit && !order_.empty()) {
      WriteFront();
      credit = budget.TryTake();
    }
    std::unique_ptr<GzipBlock> b = std::move(cur_);
    b->last = last;
    GzipBlock *raw = b.get();
    int level = level_;
    order_.emplace_back(tasks_.Submit([raw, level] { DeflateBlock(*raw, level); }), std::move(b), credit);
    if (!last) cur_ = budget.NewBlock(kBlock);
    while (!order_.empty() && tasks_.Done(*order_.front().task)) WriteFront();
  }

  // Waits for the oldest block (running queued blocks meanwhile) and writes it.
  void WriteFront() {
    Entry &e = order_.front();
    tasks_.Wait(*e.task);
    if (e.task->failure || !e.block->ok) Fail("gzip: compression failed");
    if (!header_written_) {
      // RFC 1952 header as flate2 writes it: no name, MTIME 0, XFL by level, OS unknown (255).
      const uint8_t xfl = level_ >= 9 ? 2 : level_ <= 1 ? 4 : 0;
      const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff};
      out_.Write(header, sizeof header);
      header_written_ = true;
    }
    crc_ = crc32_combine64(crc_, e.block->crc, static_cast<z_off64_t>(e.block->in.size()));
    total_ += e.block->in.size();
    out_.Write(e.block->out.data(), e.block->out.size());
    order_.pop_front();
  }

  int level_;
  ByteSink &out_;
  std::unique_ptr<GzipBlock> cur_;
  std::deque<Entry> order_;  // submitted, not yet written
  TaskGroup tasks_{SIZE_MAX};  // after order_: stopped before the blocks it points into go
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
  // `want` workers, as many as the budget has free slots for, and at least one (nbWorkers 0
  // would change the output).
  ZstdSink(int level, unsigned want, ByteSink &out, ZstdContexts *shared)
      : out_(out), shared_(shared), level_(level), lease_(want), threads_(std::max(1u, lease_.count())) {
    if (shared_) {
      std::lock_guard<std::mutex> lk(shared_->m);
      auto same = std::find_if(shared_->idle.begin(), shared_->idle.end(),
                               [&](const ZstdContexts::Entry &e) { return e.level == level_ && e.threads == threads_; });
      if (same != shared_->idle.end()) {
        cctx_ = same->cctx;
        shared_->idle.erase(same);
      } else if (!shared_->idle.empty()) {
        // No fit: one context (and its workers) fewer, so idle ones never pile up beyond the
        // number of layers running at once.
        ZSTD_freeCCtx(shared_->idle.back().cctx);
        shared_->idle.pop_back();
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
  SlotLease lease_;
  unsigned threads_;
  ZSTD_CCtx *cctx_ = nullptr;
  bool finished_ = false;
  std::vector<uint8_t> outbuf_;
};

}  // namespace

struct CompressorPool::Impl {
  ZstdContexts zstd;
};

CompressorPool::CompressorPool() : impl_(std::make_unique<Impl>()) {}

CompressorPool::~CompressorPool() = default;

std::unique_ptr<ByteSink> MakeCompressor(Compression c, ByteSink &out, unsigned threads, int level, CompressorPool *pool) {
  switch (c) {
    case Compression::None: return std::make_unique<PlainSink>(out);
    case Compression::Gzip: return std::make_unique<GzipBlockSink>(level ? level : 6, out);
    case Compression::GzipFast: return std::make_unique<GzipBlockSink>(level ? level : 1, out);
    case Compression::Zstd:
      return std::make_unique<ZstdSink>(level ? level : 3, std::max(1u, threads), out, pool ? &pool->impl().zstd : nullptr);
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

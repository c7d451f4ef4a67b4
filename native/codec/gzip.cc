#include "codec/gzip.h"

#include <dlfcn.h>
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codec/deflate_scan.h"
#include "scheduler.h"
#include "util/failure.h"

namespace oc {
namespace {

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
  // Encoders alive: spare blocks are kept while one is, and freed when the last one ends (up to
  // 2 MiB each, 2 × budget + 2 of them: ~68 MiB at 16 CPUs would otherwise stay for good).
  void StreamStarted() {
    std::lock_guard<std::mutex> lk(m_);
    streams_++;
  }
  void StreamEnded() {
    std::vector<std::unique_ptr<GzipBlock>> freed;  // freed after the lock is released
    std::lock_guard<std::mutex> lk(m_);
    if (--streams_ == 0) freed.swap(spare_);
  }
  size_t SpareBlocks() {
    std::lock_guard<std::mutex> lk(m_);
    return spare_.size();
  }

 private:
  std::mutex m_;
  size_t inflight_ = 0;
  size_t streams_ = 0;
  std::vector<std::unique_ptr<GzipBlock>> spare_;
};

// One encoder's share in the budget's spare blocks (GzipBlockBudget::StreamStarted/Ended).
struct GzipStream {
  GzipStream() { GzipBlockBudget::Get().StreamStarted(); }
  ~GzipStream() { GzipBlockBudget::Get().StreamEnded(); }
  GzipStream(const GzipStream &) = delete;
  GzipStream &operator=(const GzipStream &) = delete;
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
  b.crc = libdeflate_crc32(0, b.in.data(), b.in.size());  // PCLMUL-accelerated, same value as zlib's
  b.ok = b.last || MakeNonFinal(b.out);
}

// RFC 1952 header as flate2 writes it: no name, MTIME 0, XFL by level, OS unknown (255).
void WriteGzipHeader(ByteSink &out, int level) {
  const uint8_t xfl = level >= 9 ? 2 : level <= 1 ? 4 : 0;
  const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff};
  out.Write(header, sizeof header);
}

void WriteGzipTrailer(ByteSink &out, uLong crc, uint64_t total) {
  uint8_t trailer[8];
  for (int i = 0; i < 4; i++) trailer[i] = static_cast<uint8_t>(crc >> (8 * i));
  for (int i = 0; i < 4; i++) trailer[4 + i] = static_cast<uint8_t>(total >> (8 * i));
  out.Write(trailer, sizeof trailer);
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
    WriteGzipTrailer(out_, crc_, total_);
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
      WriteGzipHeader(out_, level_);
      header_written_ = true;
    }
    crc_ = crc32_combine64(crc_, e.block->crc, static_cast<z_off64_t>(e.block->in.size()));
    total_ += e.block->in.size();
    out_.Write(e.block->out.data(), e.block->out.size());
    order_.pop_front();
  }

  GzipStream stream_;  // first: its blocks are recycled before it ends
  int level_;
  ByteSink &out_;
  std::unique_ptr<GzipBlock> cur_;
  std::deque<Entry> order_;  // submitted, not yet written
  TaskGroup tasks_{SIZE_MAX};  // after order_: stopped before the blocks it points into go
  bool header_written_ = false;
  uLong crc_ = crc32(0L, Z_NULL, 0);
  uint64_t total_ = 0;
};

// The system's zlib, loaded into a link namespace of its own. Node exports its bundled zlib
// (Chromium's, whose deflate writes other bytes) and those symbols would win over libz's, even
// for libz's calls into itself (deflateInit2_ → deflateReset), mixing two layouts of one state.
struct SystemZlib {
  decltype(&deflateInit2_) init = nullptr;
  decltype(&::deflate) run = nullptr;
  decltype(&deflateEnd) end = nullptr;
  decltype(&zlibVersion) version = nullptr;
  std::string error;

  static const SystemZlib &Get() {
    static const SystemZlib *z = [] {
      auto *s = new SystemZlib();  // lives as long as the process, like the namespace
      void *h = dlmopen(LM_ID_NEWLM, "libz.so.1", RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        s->error = dlerror();
        return s;
      }
      s->init = reinterpret_cast<decltype(s->init)>(dlsym(h, "deflateInit2_"));
      s->run = reinterpret_cast<decltype(s->run)>(dlsym(h, "deflate"));
      s->end = reinterpret_cast<decltype(s->end)>(dlsym(h, "deflateEnd"));
      s->version = reinterpret_cast<decltype(s->version)>(dlsym(h, "zlibVersion"));
      if (!s->init || !s->run || !s->end || !s->version) s->error = "libz.so.1 lacks deflate";
      return s;
    }();
    return *z;
  }
};

// zlib's deflate in one raw stream (window 15, memLevel 8, default strategy: flate2's
// settings), fed without flushes so the output does not depend on how the input is cut.
class ZlibGzipSink : public ByteSink {
 public:
  ZlibGzipSink(int level, ByteSink &out) : z_(SystemZlib::Get()), out_(out), buf_(256 * 1024) {
    if (!z_.error.empty()) Fail("gzip as upstream writes it needs the system zlib: " + z_.error);
    memset(&zs_, 0, sizeof zs_);
    if (z_.init(&zs_, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY, z_.version(), sizeof zs_) != Z_OK)
      Fail("gzip: deflateInit failed");
    WriteGzipHeader(out_, level);
  }
  ~ZlibGzipSink() override { z_.end(&zs_); }

  void Write(const uint8_t *p, size_t n) override {
    crc_ = libdeflate_crc32(static_cast<uint32_t>(crc_), p, n);
    total_ += n;
    while (n > 0) {
      // avail_in is 32-bit
      size_t take = std::min<size_t>(n, 1u << 30);
      zs_.next_in = const_cast<uint8_t *>(p);
      zs_.avail_in = static_cast<uInt>(take);
      Deflate(Z_NO_FLUSH);
      p += take;
      n -= take;
    }
  }

  void Finish() override {
    zs_.avail_in = 0;
    Deflate(Z_FINISH);
    WriteGzipTrailer(out_, crc_, total_);
    out_.Finish();
  }

 private:
  // Runs deflate until it has taken all input (and, finishing, ended the stream).
  void Deflate(int flush) {
    for (;;) {
      zs_.next_out = buf_.data();
      zs_.avail_out = static_cast<uInt>(buf_.size());
      int r = z_.run(&zs_, flush);
      if (r == Z_STREAM_ERROR) Fail("gzip: deflate failed");
      out_.Write(buf_.data(), buf_.size() - zs_.avail_out);
      if (flush == Z_FINISH ? r == Z_STREAM_END : (zs_.avail_in == 0 && zs_.avail_out != 0)) return;
    }
  }

  const SystemZlib &z_;
  ByteSink &out_;
  std::vector<uint8_t> buf_;
  z_stream zs_;
  uLong crc_ = 0;
  uint64_t total_ = 0;
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

}  // namespace

std::unique_ptr<ByteSink> MakeGzipEncoder(int level, ByteSink &out) { return std::make_unique<GzipBlockSink>(level, out); }

std::unique_ptr<ByteSink> MakeZlibGzipEncoder(int level, ByteSink &out) { return std::make_unique<ZlibGzipSink>(level, out); }
size_t GzipSpareBlocks() { return GzipBlockBudget::Get().SpareBlocks(); }

std::unique_ptr<ByteSource> MakeGzipDecoder(ByteSource &in) { return std::make_unique<GunzipSource>(in); }

}  // namespace oc

#include "codec/zstd.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "scheduler.h"
#include "util/failure.h"

namespace oc {
namespace {

// libzstd's worker threads alive now, in contexts in use or kept in a ZstdContexts.
std::atomic<unsigned> g_workers{0};

ZSTD_CCtx *NewContext(int level, unsigned threads, int job_size) {
  ZSTD_CCtx *c = ZSTD_createCCtx();
  if (!c) Fail("zstd: out of memory");
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  // nbWorkers ≥ 1 always: the output is then the same for any worker count.
  ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, static_cast<int>(threads));
  // Fixed job size: bounds memory (the default for level 3 is 8 MiB per job and buffer) and,
  // being fixed, keeps the output independent of everything but the input.
  ZSTD_CCtx_setParameter(c, ZSTD_c_jobSize, job_size);
  g_workers += threads;
  return c;
}

}  // namespace

void FreeZstdContext(ZSTD_CCtx *c, unsigned threads) {
  ZSTD_freeCCtx(c);  // joins its workers
  g_workers -= threads;
}

unsigned ZstdWorkerThreads() { return g_workers; }

ZstdContexts::~ZstdContexts() {
  for (auto &e : idle) FreeZstdContext(e.cctx, e.threads);
}

namespace {

class ZstdSink : public ByteSink {
 public:
  static constexpr int kJobSize = 2 * 1024 * 1024;
  // `want` workers, as many as the budget has free slots for, and at least one (nbWorkers 0
  // would change the output): held as slots either way, so the CPU pool makes room for them.
  ZstdSink(int level, unsigned want, ByteSink &out, ZstdContexts *shared)
      : out_(out), shared_(shared), level_(level), lease_(want, 1), threads_(lease_.count()) {
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
        FreeZstdContext(shared_->idle.back().cctx, shared_->idle.back().threads);
        shared_->idle.pop_back();
      }
    }
    if (!cctx_) cctx_ = NewContext(level_, threads_, kJobSize);
    outbuf_.resize(ZSTD_CStreamOutSize());
  }
  ~ZstdSink() override {
    if (shared_ && finished_) {
      // A finished frame (all jobs done) leaves the context ready for the next one, as a new
      // one would be; a failed one is freed, which waits for its jobs.
      std::lock_guard<std::mutex> lk(shared_->m);
      shared_->idle.push_back({cctx_, level_, threads_});
    } else {
      FreeZstdContext(cctx_, threads_);
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

std::unique_ptr<ByteSink> MakeZstdEncoder(int level, unsigned threads, ByteSink &out, ZstdContexts *shared) {
  return std::make_unique<ZstdSink>(level, threads, out, shared);
}

std::unique_ptr<ByteSource> MakeZstdDecoder(ByteSource &in) { return std::make_unique<ZstdSource>(in); }

}  // namespace oc

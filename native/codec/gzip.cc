#include "codec/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "util/failure.h"

namespace oc {
namespace {

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

std::unique_ptr<ByteSink> MakeGzipEncoder(int level, unsigned threads, ByteSink &out, GzipWorkers *shared) {
  return std::make_unique<GzipBlockSink>(level, threads, out, shared);
}

std::unique_ptr<ByteSource> MakeGzipDecoder(ByteSource &in) { return std::make_unique<GunzipSource>(in); }

}  // namespace oc

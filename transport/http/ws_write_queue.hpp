// The outgoing side of one WebSocket session, without the socket: senders on any thread
// queue frames under a byte cap; the session's strand takes everything queued at once and
// frames it into one gather write. Internal to transport/http (ws_session owns one);
// apart from the session so that its rules are unit-tested without sockets.
#pragma once

#include "transport/http/server.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sio::http {

class ws_write_queue {
public:
  using send_result = ws_channel::send_result;

  /// A frame's op for bytes written as they are (the 101 answer ahead of every frame).
  static constexpr std::uint8_t raw_bytes = 0xFF;
  /// What a queued control frame holds beside its payload (its queue entry, the shared
  /// string and its copy in the write buffer): counted so that empty pings add up too.
  static constexpr std::size_t control_overhead = 128;
  /// Payloads up to this size are copied next to their header into one contiguous
  /// buffer; larger ones are written from where they are.
  static constexpr std::size_t copy_limit = 2048;

  /// What a frame counts against the cap from when it is queued until it is written: a
  /// data frame its payload; a control frame (pong, close) its payload plus its
  /// bookkeeping; the 101 answer nothing (nothing can be queued before it).
  static std::size_t queue_cost(std::uint8_t op, std::size_t size) {
    if (op == raw_bytes)
      return 0;
    return (op & 0x08) != 0 ? size + control_overhead : size;
  }

  /// `deflate_bits` > 0: permessage-deflate was agreed with that window; data frames of
  /// at least `deflate_threshold` bytes are then written compressed when that is smaller.
  explicit ws_write_queue(std::size_t max_queue_bytes, int deflate_bits = 0, std::size_t deflate_threshold = 1024)
      : max_queue_bytes_(max_queue_bytes), deflate_bits_(deflate_bits), deflate_threshold_(deflate_threshold) {}

  /// What a push decided. `schedule`: the caller must arrange one take() on the strand
  /// (none is pending or under way).
  struct pushed {
    send_result result;
    bool schedule = false;
  };

  /// Queues `n` messages as data frames, all or none. One oversized message on an empty
  /// queue still goes: the cap bounds the backlog, not a message.
  pushed push(ws_message* messages, std::size_t n);
  /// Queues a pong (refused over the cap) or our close frame (always taken, once; nothing
  /// is queued after it).
  pushed push_control(std::uint8_t op, std::string payload);
  /// Queues bytes written as they are, ahead of any frame (the 101 answer); `alone`: in
  /// a write of their own, the frames queued after them in the next one.
  pushed push_raw(std::string bytes, bool alone = false);

  /// No more data frames are taken (the application was told the session is gone); a
  /// close frame still may be. What is queued stays until drop().
  void refuse_sends() { refused_.store(true, std::memory_order_release); }
  /// Nothing more is taken, close frames included (the session is being aborted).
  void refuse_all();

  /// Frees what is queued and refuses everything from now on.
  void drop();

  // -- on the strand --

  /// Moves everything queued into the write and frames it; false when nothing is queued
  /// (or the queue was dropped), and then the next push schedules again.
  bool take();
  /// The write's buffers, in order: contiguous runs of headers and small payloads, large
  /// payloads in place. Valid until written() or the next take().
  struct chunk {
    const void* data;
    std::size_t size;
  };
  const std::vector<chunk>& chunks() const { return chunks_; }
  /// The write is done (or failed): its bytes leave the count.
  void written();
  /// Whether our close frame has been framed into a write.
  bool close_taken() const { return close_taken_; }

  std::size_t queued_bytes() const { return queued_.load(std::memory_order_relaxed); }

private:
  struct out_frame {
    std::uint8_t op;
    std::shared_ptr<const std::string> data;
    bool compressed = false; // `data` is the deflated message (RSV1)
    bool alone = false;      // the last of its write
  };
  struct piece {
    bool in_out; // in out_ (at offset), or a large payload written in place
    std::size_t offset, size;
    const std::string* data;
  };

  send_result admit(std::size_t bytes);
  pushed queue_one(std::uint8_t op, std::shared_ptr<const std::string> data);
  bool schedule();
  void release_buffers();

  const std::size_t max_queue_bytes_;
  const int deflate_bits_;
  const std::size_t deflate_threshold_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> refused_{false};

  // Shared with senders, under mutex_.
  std::mutex mutex_;
  std::vector<out_frame> pending_;
  bool scheduled_ = false; // a take() is due or a write is under way
  bool closing_ = false;   // a close frame is queued or the queue is dropped
  bool dropped_ = false;

  // The strand's own.
  std::vector<out_frame> inflight_;
  std::size_t inflight_bytes_ = 0;
  std::vector<unsigned char> out_;
  std::vector<piece> pieces_;
  std::vector<chunk> chunks_;
  bool close_taken_ = false;
};

} // namespace sio::http

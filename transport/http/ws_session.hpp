// A WebSocket session after the HTTP upgrade. Internal to transport/http (http_session
// starts it, write_batch flushes it); Asio, no Beast.
//
// Reads and writes WebSocket frames itself (see ws_frame.hpp for why). Writes: senders on
// any thread queue frames in a ws_write_queue and post one flush when none is under way;
// the flush (on the session's strand) hands everything queued to a single async_write, so
// a burst of broadcasts costs one syscall per connection. Reads: the session waits for
// readability, reads into a per-thread scratch buffer and handles every complete frame in
// it; only an incomplete frame's bytes stay with the session, so an idle connection holds
// no buffers.
//
// With permessage-deflate agreed (deflate_bits > 0), messages of at least the threshold
// go out compressed (the write queue compresses them, a broadcast once per thread) and a
// compressed message from the client is inflated whole, within max-http-buffer-size.
//
// Over TLS the reads go through OpenSSL into a buffer of the session's (16 KiB, only TLS
// sessions have one: decrypted bytes can wait inside OpenSSL, where a readability wait
// on the socket would not see them), and the 101 goes out in a write of its own through
// the queue.
#pragma once

#include "transport/http/connection_limits.hpp"
#include "transport/http/server.hpp"
#include "transport/http/stream.hpp"
#include "transport/http/ws_frame.hpp"
#include "transport/http/ws_write_queue.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace sio::http {

class ws_session final : public ws_channel, public std::enable_shared_from_this<ws_session> {
public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  /// `deflate_bits`: the window permessage-deflate compresses with, 0 when not agreed.
  ws_session(stream&& s, const server_options& opts, boost::asio::io_context& ioc, connection_slot slot,
             int deflate_bits = 0);

  /// Answers the upgrade with `response_101` (written before anything else), attaches the
  /// application and starts reading; `leftover` are bytes read past the HTTP request.
  void start(std::string response_101, std::string leftover,
             std::function<std::shared_ptr<ws_sink>(ws_channel_ptr)> attach, bool answer_alone);

  send_result send(std::vector<ws_message> messages) override;
  send_result send(ws_message message) override;
  std::size_t queued_bytes() const override { return queue_.queued_bytes(); }
  void close(std::uint16_t code, std::string reason) override;
  void abort() override;
  void consumed(std::size_t bytes) override;

  /// Runs a flush scheduled through a write_batch: on this session's strand, inline when
  /// the strand is free (the usual case on the I/O thread that runs the batch).
  void flush_from_batch();
  boost::asio::io_context& io_context() { return ioc_; }
  std::chrono::microseconds write_delay() const { return write_delay_; }

private:
  static constexpr std::size_t scratch_size = 64 * 1024;
  static constexpr std::size_t tls_read_size = 16 * 1024;

  // -- writing --
  send_result sent(ws_write_queue::pushed p);
  void flush();
  void on_write(error_code ec);

  // -- reading (on the strand) --
  void wait_readable();
  void on_readable(error_code ec);
  void on_tls_read(error_code ec, std::size_t n);
  void handle_bytes(unsigned char* data, std::size_t n);
  void on_frame(const wsframe::header& h, const char* payload, std::size_t len);
  bool text_valid_so_far(bool fin);
  void finish(bool binary, bool compressed, std::string data);
  void deliver(bool binary, std::string data);

  // -- ending --
  send_result control(std::uint8_t op, std::string payload);
  void protocol_failure(wsframe::close_code code);
  void fail(const char* what, error_code ec = {});
  void notify(const char* reason);
  void bound_goodbye();
  void drop();

  stream stream_;
  tcp::socket& socket_; // stream_'s TCP socket
  std::unique_ptr<unsigned char[]> tls_read_; // TLS only
  boost::asio::io_context& ioc_;
  std::chrono::microseconds write_delay_;
  boost::asio::steady_timer close_timer_;
  std::size_t max_inbound_bytes_;
  std::size_t max_message_bytes_;
  ws_write_queue queue_;
  std::vector<boost::asio::const_buffer> buffers_; // the write under way
  std::atomic<std::size_t> inbound_{0};
  connection_slot slot_; // released when the socket closes

  // The strand's own.
  bool shutdown_sent_ = false;
  std::string rx_;
  std::string fragments_;
  std::size_t utf8_checked_ = 0; // bytes of a fragmented text message found UTF-8
  bool fragmented_ = false;
  bool fragments_binary_ = false;
  bool fragments_compressed_ = false;
  const bool deflate_;
  bool paused_ = false;
  bool notified_ = false;
  std::shared_ptr<ws_sink> sink_;
};

} // namespace sio::http

#include "transport/http/ws_session.hpp"

#include "transport/http/permessage_deflate.hpp"
#include "transport/http/write_batch_collect.hpp"
#include "transport/http/zlib_stream.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

namespace sio::http {

namespace asio = boost::asio;

ws_session::ws_session(stream&& s, const server_options& opts, asio::io_context& ioc, connection_slot slot,
                       int deflate_bits)
    : stream_(std::move(s)), socket_(stream_.socket()),
      tls_read_(stream_.is_tls() ? new unsigned char[tls_read_size] : nullptr), ioc_(ioc), write_delay_(opts.write_delay), close_timer_(socket_.get_executor()),
      max_inbound_bytes_(opts.max_inbound_bytes), max_message_bytes_(opts.max_body_bytes),
      queue_(opts.max_queue_bytes, deflate_bits, opts.per_message_deflate_threshold), slot_(std::move(slot)),
      deflate_(deflate_bits > 0) {}

void ws_session::start(std::string response_101, std::string leftover,
                       std::function<std::shared_ptr<ws_sink>(ws_channel_ptr)> attach, bool answer_alone) {
  error_code ec;
  socket_.non_blocking(true, ec);
  // answer_alone: the 101 in a write of its own, before anything is queued: a client that
  // starts listening for messages only after its `open` event misses a first frame that
  // came in the same read. Plain TCP writes it now (a fresh socket's send buffer always
  // takes these bytes); TLS queues it as a write of its own.
  bool queue_alone = answer_alone && stream_.is_tls();
  if (answer_alone && !stream_.is_tls()) {
    auto written = socket_.write_some(asio::buffer(response_101), ec);
    response_101.erase(0, ec ? 0 : written);
  }
  if (!response_101.empty() && queue_.push_raw(std::move(response_101), queue_alone).schedule)
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
  rx_ = std::move(leftover);
  sink_ = attach(shared_from_this());
  if (!rx_.empty())
    handle_bytes(nullptr, 0);
  if (!notified_ && !paused_)
    wait_readable();
}

// -- writing (pushes from any thread, the rest on the strand) --

ws_channel::send_result ws_session::send(std::vector<ws_message> messages) {
  return sent(queue_.push(messages.data(), messages.size()));
}

ws_channel::send_result ws_session::send(ws_message message) {
  return sent(queue_.push(&message, 1));
}

ws_channel::send_result ws_session::sent(ws_write_queue::pushed p) {
  if (p.schedule && !write_batch_collect(shared_from_this())) // else flushed with the batch
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
  return p.result;
}

void ws_session::flush_from_batch() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
}

void ws_session::flush() {
  if (!queue_.take()) {
    buffers_ = {}; // an idle connection keeps no write buffers
    return;
  }
  buffers_.clear();
  for (auto& c : queue_.chunks())
    buffers_.emplace_back(c.data, c.size);
  asio::async_write(stream_, buffers_, [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
}

void ws_session::on_write(error_code ec) {
  queue_.written();
  if (ec) {
    fail("write", ec);
    return flush(); // the queue is dropped: this frees its buffers
  }
  if (queue_.close_taken() && !shutdown_sent_) {
    shutdown_sent_ = true;
    if (notified_) {
      drop(); // both goodbyes are done
    } else {
      // Ours is out: the peer answers with its own, or just closes.
      error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }
  }
  flush(); // writes what came meanwhile, or frees the buffers
}

void ws_session::close(std::uint16_t code, std::string reason) {
  // Nothing more is accepted after it: the goodbye goes after what is queued.
  if (control(wsframe::close, wsframe::close_payload(code, reason)) == send_result::closed)
    return;
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->bound_goodbye(); });
}

void ws_session::abort() {
  queue_.refuse_all();
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->drop(); });
}

void ws_session::consumed(std::size_t bytes) {
  auto left = inbound_.fetch_sub(bytes, std::memory_order_acq_rel) - bytes;
  if (left <= max_inbound_bytes_ / 2) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->paused_ && !self->notified_) {
        self->paused_ = false;
        self->wait_readable();
      }
    });
  }
}

// -- reading (on the strand) --

void ws_session::wait_readable() {
  if (tls_read_) {
    stream_.async_read_some(asio::buffer(tls_read_.get(), tls_read_size),
                            [self = shared_from_this()](error_code ec, std::size_t n) { self->on_tls_read(ec, n); });
    return;
  }
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) { self->on_readable(ec); });
}

void ws_session::on_tls_read(error_code ec, std::size_t n) {
  if (ec)
    return fail("read", ec == asio::ssl::error::stream_truncated ? asio::error::eof : ec);
  handle_bytes(tls_read_.get(), n);
  if (!notified_ && !paused_)
    wait_readable();
}

void ws_session::on_readable(error_code ec) {
  if (ec)
    return fail("wait", ec);
  thread_local std::unique_ptr<unsigned char[]> scratch(new unsigned char[scratch_size]);
  auto n = socket_.read_some(asio::buffer(scratch.get(), scratch_size), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again)
    return wait_readable();
  if (ec)
    return fail("read", ec);
  handle_bytes(scratch.get(), n);
  if (!notified_ && !paused_)
    wait_readable();
}

void ws_session::handle_bytes(unsigned char* data, std::size_t n) {
  // Every complete frame in rx_ followed by data[0, n); an incomplete tail stays in rx_.
  unsigned char* p = data;
  std::size_t size = n;
  if (!rx_.empty()) {
    rx_.append(reinterpret_cast<const char*>(data), n);
    p = reinterpret_cast<unsigned char*>(rx_.data());
    size = rx_.size();
  }
  std::size_t used = 0;
  while (!notified_) {
    wsframe::header h;
    auto r = wsframe::parse_header(p + used, size - used, max_message_bytes_, h, deflate_);
    if (r == wsframe::parse_result::incomplete)
      break;
    if (r != wsframe::parse_result::ok)
      return protocol_failure(r == wsframe::parse_result::too_big ? wsframe::too_big : wsframe::protocol_error);
    if (size - used < h.header_size + h.payload_size)
      break;
    auto* payload = p + used + h.header_size;
    auto len = static_cast<std::size_t>(h.payload_size);
    wsframe::unmask(payload, len, h.mask);
    used += h.header_size + len;
    on_frame(h, reinterpret_cast<const char*>(payload), len);
  }
  if (notified_)
    return;
  if (rx_.empty())
    rx_.assign(reinterpret_cast<const char*>(p + used), size - used);
  else
    rx_.erase(0, used);
  if (rx_.empty() && rx_.capacity() > 0)
    std::string().swap(rx_);
}

void ws_session::on_frame(const wsframe::header& h, const char* payload, std::size_t len) {
  switch (h.op) {
  case wsframe::ping:
    // A pong over the cap: the client sends pings but does not read.
    if (control(wsframe::pong, std::string(payload, len)) == send_result::over_cap)
      return fail("pongs over the write cap");
    return;
  case wsframe::pong:
    return;
  case wsframe::close:
    // The peer says goodbye: answer (unless ours went already) and end. A valid code
    // is echoed; an invalid one, or a reason that is not UTF-8, is answered 1002/1007.
    control(wsframe::close, wsframe::close_payload(wsframe::close_answer({payload, len}), {}));
    return notify("transport close");
  case wsframe::continuation:
    if (!fragmented_)
      return protocol_failure(wsframe::protocol_error);
    if (fragments_.size() + len > max_message_bytes_)
      return protocol_failure(wsframe::too_big);
    fragments_.append(payload, len);
    if (!fragments_binary_ && !fragments_compressed_ && !text_valid_so_far(h.fin))
      return protocol_failure(wsframe::invalid_payload);
    if (h.fin) {
      fragmented_ = false;
      finish(fragments_binary_, fragments_compressed_, std::move(fragments_));
      fragments_.clear();
    }
    return;
  default: // text or binary
    if (fragmented_)
      return protocol_failure(wsframe::protocol_error);
    if (!h.fin) {
      fragmented_ = true;
      fragments_binary_ = h.op == wsframe::binary;
      // A compressed message's text is checked once inflated, whole.
      fragments_compressed_ = h.compressed;
      fragments_.assign(payload, len);
      utf8_checked_ = 0;
      if (!fragments_binary_ && !fragments_compressed_ && !text_valid_so_far(false))
        return protocol_failure(wsframe::invalid_payload);
      return;
    }
    if (h.compressed)
      return finish(h.op == wsframe::binary, true, std::string(payload, len));
    if (h.op == wsframe::text && !wsframe::is_utf8({payload, len}))
      return protocol_failure(wsframe::invalid_payload);
    deliver(h.op == wsframe::binary, std::string(payload, len));
  }
}

void ws_session::finish(bool binary, bool compressed, std::string data) {
  // A whole message: a compressed one is inflated (within the message limit: a small
  // bomb costs that much and no more) and a text one checked after.
  if (compressed) {
    std::string inflated;
    switch (zlib::inflate_raw(data, permessage_deflate::tail, max_message_bytes_, inflated)) {
    case zlib::inflate_status::ok:
      break;
    case zlib::inflate_status::too_big:
      return protocol_failure(wsframe::too_big);
    case zlib::inflate_status::bad_data:
      return protocol_failure(wsframe::invalid_payload);
    }
    data = std::move(inflated);
    if (!binary && !wsframe::is_utf8(data))
      return protocol_failure(wsframe::invalid_payload);
  }
  deliver(binary, std::move(data));
}

bool ws_session::text_valid_so_far(bool fin) {
  // The text fragments received since the last check: a fragmented message is read once
  // and refused at its first bad byte; a code point cut between two fragments waits for
  // the next one, and must be whole by the last (`fin`).
  auto r = wsframe::check_utf8(std::string_view(fragments_).substr(utf8_checked_));
  if (!r.valid)
    return false;
  utf8_checked_ += r.complete;
  return !fin || utf8_checked_ == fragments_.size();
}

void ws_session::deliver(bool binary, std::string data) {
  auto unhandled = inbound_.fetch_add(data.size(), std::memory_order_acq_rel) + data.size();
  if (sink_)
    sink_->on_message(binary, std::move(data));
  if (unhandled > max_inbound_bytes_ && inbound_.load(std::memory_order_acquire) > max_inbound_bytes_ / 2)
    paused_ = true; // consumed() resumes; the receiver holds this session meanwhile
}

// -- ending --

ws_channel::send_result ws_session::control(std::uint8_t op, std::string payload) {
  return sent(queue_.push_control(op, std::move(payload)));
}

void ws_session::protocol_failure(wsframe::close_code code) {
  // Not an I/O failure: the close frame says why, then the connection ends.
  control(wsframe::close, wsframe::close_payload(code, {}));
  notify("transport error");
}

void ws_session::fail(const char* what, error_code ec) {
  // Every failure ends here: the application hears it once, the socket closes.
  bool orderly = ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted
                 || ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor;
  if (!notified_)
    spdlog::debug("websocket {}: {}{}{}", slot_.address(), what, ec ? ": " : "", ec ? ec.message() : "");
  notify(orderly ? "transport close" : "transport error");
  drop();
}

void ws_session::notify(const char* reason) {
  // Tells the application once that the connection is gone; reading stops.
  queue_.refuse_sends();
  if (notified_)
    return;
  notified_ = true;
  if (sink_)
    sink_->on_close(reason);
  sink_.reset();
  if (shutdown_sent_)
    return drop(); // our close frame went out before the peer's came
  bound_goodbye();
}

void ws_session::bound_goodbye() {
  // The goodbye is queued; a peer that does not read it must not hold the session.
  close_timer_.expires_after(std::chrono::seconds(5));
  close_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec)
      self->drop();
  });
}

void ws_session::drop() {
  queue_.drop();
  close_timer_.cancel();
  error_code ignored;
  socket_.close(ignored); // pending operations end now
  slot_.release();
}

} // namespace sio::http

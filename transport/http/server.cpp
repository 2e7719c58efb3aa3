// Beast listener, HTTP session and WebSocket session, after Beast's chat-multi example:
// each async step continues in an on_* member holding shared_from_this(), and every
// error goes through one place.
#include "transport/http/server.hpp"

#include "transport/http/request.hpp"
#include "transport/http/ws_frame.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>

namespace sio::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;

// -- request / response helpers ----------------------------------------------

const std::string* find_value(const header_list& list, std::string_view name) {
  for (auto& [k, v] : list)
    if (k == name)
      return &v;
  return nullptr;
}

const std::string* request::header(std::string_view name) const {
  return find_value(headers, name);
}
const std::string* request::param(std::string_view name) const {
  return find_value(query, name);
}

response response::json(int status, std::string body) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

response response::text(int status, std::string body, std::string content_type) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

header_list parse_query(std::string_view query) {
  header_list out;
  // boost::url decodes percent-escapes and, with space_as_plus, '+' as a space.
  std::string target = "/?";
  target += query;
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed)
    return out;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (auto param : parsed->params(opts))
    out.emplace_back(param.key, param.has_value ? param.value : std::string{});
  return out;
}

// -- WebSocket session ---------------------------------------------------------

namespace {

// Reads and writes WebSocket frames itself (see ws_frame.hpp for why). Writes: senders on
// any thread append to `pending_` under a mutex and post one flush when none is under way;
// the flush (on the session's strand) frames everything pending into one buffer and hands
// it to a single async_write, so a burst of broadcasts costs one syscall per connection.
// Reads: the session waits for readability, reads into a per-thread scratch buffer and
// handles every complete frame in it; only an incomplete frame's bytes stay with the
// session, so an idle connection holds no buffers.
class ws_session;
/// Adds `s` to the write_batch open on this thread; false when none is open.
bool write_batch_collect(std::shared_ptr<ws_session> s);

class ws_session final : public ws_channel, public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& socket, const server_options& opts, asio::io_context& ioc)
      : socket_(std::move(socket)), ioc_(ioc), write_delay_(opts.write_delay), close_timer_(socket_.get_executor()),
        max_queue_bytes_(opts.max_queue_bytes), max_inbound_bytes_(opts.max_inbound_bytes),
        max_message_bytes_(opts.max_body_bytes) {}

  /// Answers the upgrade with `response_101` (written before anything else), attaches the
  /// application and starts reading; `leftover` are bytes read past the HTTP request.
  void start(std::string response_101, std::string leftover,
             std::function<std::shared_ptr<ws_sink>(ws_channel_ptr)> attach, bool answer_alone) {
    error_code ec;
    socket_.non_blocking(true, ec);
    if (answer_alone) {
      // The 101 in a write of its own, before anything is queued: a client that starts
      // listening for messages only after its `open` event misses a first frame that came
      // in the same read (a fresh socket's send buffer always takes these bytes).
      auto written = socket_.write_some(asio::buffer(response_101), ec);
      response_101.erase(0, ec ? 0 : written);
    }
    if (!response_101.empty()) {
      {
        std::lock_guard<std::mutex> guard(mutex_);
        pending_.push_back({raw_bytes, std::make_shared<const std::string>(std::move(response_101))});
        scheduled_ = true;
      }
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
    }
    rx_ = std::move(leftover);
    sink_ = attach(shared_from_this());
    if (!rx_.empty())
      handle_bytes(nullptr, 0);
    if (!notified_ && !paused_)
      wait_readable();
  }

  send_result send(std::vector<ws_message> messages) override { return queue(messages.data(), messages.size()); }

  send_result send(ws_message message) override { return queue(&message, 1); }

  std::size_t queued_bytes() const override { return queued_.load(std::memory_order_relaxed); }

  void close(std::uint16_t code, std::string reason) override {
    // Nothing more is accepted after it: the goodbye goes after what is queued.
    if (control(wsframe::close, wsframe::close_payload(code, reason)) == send_result::closed)
      return;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      // A peer that stops reading would hold the session forever: bound the goodbye.
      self->close_timer_.expires_after(std::chrono::seconds(5));
      self->close_timer_.async_wait([self](error_code ec) {
        if (!ec)
          self->drop();
      });
    });
  }

  void abort() override {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      closing_ = true;
    }
    closed_.store(true, std::memory_order_release);
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->drop(); });
  }

  void consumed(std::size_t bytes) override {
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

private:
  static constexpr std::uint8_t raw_bytes = 0xFF; // an out_frame written as is (the 101 answer)
  /// Payloads up to this size are copied next to their header into one contiguous
  /// buffer; larger ones are written from where they are.
  static constexpr std::size_t copy_limit = 2048;
  static constexpr std::size_t scratch_size = 64 * 1024;

  struct out_frame {
    std::uint8_t op;
    std::shared_ptr<const std::string> data;
  };

  /// What a queued control frame holds beside its payload (its queue entry, the shared
  /// string and its copy in the write buffer): counted so that empty pings add up too.
  static constexpr std::size_t control_overhead = 128;

  /// What a frame counts against max_queue_bytes from when it is queued until it is
  /// written: a data frame its payload; a control frame (pong, close) its payload plus its
  /// bookkeeping; the 101 answer nothing (nothing can be queued before it).
  static std::size_t queue_cost(std::uint8_t op, std::size_t size) {
    if (op == raw_bytes)
      return 0;
    return (op & 0x08) != 0 ? size + control_overhead : size;
  }

  // -- writing (admit and schedule_flush under mutex_, the rest on the strand) --

  /// Queues `n` messages as data frames, all or none.
  send_result queue(ws_message* messages, std::size_t n) {
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i)
      bytes += messages[i].data ? messages[i].data->size() : 0;
    std::lock_guard<std::mutex> guard(mutex_);
    auto result = admit(bytes);
    if (result != send_result::queued)
      return result;
    for (std::size_t i = 0; i < n; ++i)
      pending_.push_back({messages[i].binary ? wsframe::binary : wsframe::text, std::move(messages[i].data)});
    schedule_flush();
    return result;
  }

  send_result admit(std::size_t bytes) {
    if (closing_ || closed_.load(std::memory_order_acquire))
      return send_result::closed;
    auto before = queued_.load(std::memory_order_relaxed);
    // One oversized message on an empty queue still goes: the cap bounds the backlog.
    if (before > 0 && before + bytes > max_queue_bytes_)
      return send_result::over_cap;
    queued_.fetch_add(bytes, std::memory_order_relaxed);
    return send_result::queued;
  }

  void schedule_flush() {
    if (scheduled_)
      return;
    scheduled_ = true;
    if (write_batch_collect(shared_from_this()))
      return; // flushed with the rest of the batch (see write_batch)
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
  }

public:
  /// Runs a flush scheduled through a write_batch: on this session's strand, inline when
  /// the strand is free (the usual case on the I/O thread that runs the batch).
  void flush_from_batch() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->flush(); });
  }
  asio::io_context& io_context() { return ioc_; }
  std::chrono::microseconds write_delay() const { return write_delay_; }

private:
  void flush() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (pending_.empty() || dropped_) {
        scheduled_ = false;
        release_write_buffers();
        return;
      }
      inflight_.swap(pending_);
    }
    // Pass 1: the contiguous part's size, so that pass 2 never moves it.
    std::size_t arena = 0;
    for (auto& f : inflight_)
      arena += wsframe::max_header_size + (f.data->size() <= copy_limit ? f.data->size() : 0);
    out_.clear();
    out_.reserve(arena);
    // Pass 2: frame. Buffers refer to `out_` by offset until it is complete.
    pieces_.clear();
    auto append_out = [&](const unsigned char* p, std::size_t n) {
      auto at = out_.size();
      out_.insert(out_.end(), p, p + n);
      if (!pieces_.empty() && pieces_.back().in_out)
        pieces_.back().size += n;
      else
        pieces_.push_back({true, at, n, nullptr});
    };
    for (auto& f : inflight_) {
      auto& d = *f.data;
      if (f.op != raw_bytes) {
        unsigned char header[wsframe::max_header_size];
        append_out(header, wsframe::write_header(f.op, d.size(), header));
      }
      if (d.size() <= copy_limit || f.op == raw_bytes)
        append_out(reinterpret_cast<const unsigned char*>(d.data()), d.size());
      else
        pieces_.push_back({false, 0, d.size(), &d});
      if (f.op == wsframe::close)
        close_sent_ = true;
      inflight_bytes_ += queue_cost(f.op, d.size());
    }
    buffers_.clear();
    for (auto& p : pieces_)
      buffers_.emplace_back(p.in_out ? static_cast<const void*>(out_.data() + p.offset) : p.data->data(), p.size);
    asio::async_write(socket_, buffers_,
                      [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    queued_.fetch_sub(inflight_bytes_, std::memory_order_relaxed);
    inflight_bytes_ = 0;
    inflight_.clear();
    if (ec) {
      fail(ec);
      std::lock_guard<std::mutex> guard(mutex_);
      scheduled_ = false;
      release_write_buffers(); // the write is over: nothing refers to them any more
      return;
    }
    if (close_sent_ && !shutdown_sent_) {
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

  void release_write_buffers() {
    // An idle or dropped connection keeps no write buffers (called under mutex_ with
    // nothing pending and no write under way): one allocation per write costs less than
    // memory held by every idle client.
    std::vector<unsigned char>().swap(out_);
    std::vector<out_frame>().swap(inflight_);
    std::vector<out_frame>().swap(pending_);
    pieces_ = {};
    buffers_ = {};
  }

  // -- reading (on the strand) --

  void wait_readable() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) { self->on_readable(ec); });
  }

  void on_readable(error_code ec) {
    if (ec)
      return fail(ec);
    thread_local std::unique_ptr<unsigned char[]> scratch(new unsigned char[scratch_size]);
    auto n = socket_.read_some(asio::buffer(scratch.get(), scratch_size), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      return wait_readable();
    if (ec)
      return fail(ec);
    handle_bytes(scratch.get(), n);
    if (!notified_ && !paused_)
      wait_readable();
  }

  /// Handles every complete frame in rx_ followed by data[0, n); keeps an incomplete tail.
  void handle_bytes(unsigned char* data, std::size_t n) {
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
      auto r = wsframe::parse_header(p + used, size - used, max_message_bytes_, h);
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

  void on_frame(const wsframe::header& h, const char* payload, std::size_t len) {
    switch (h.op) {
    case wsframe::ping:
      if (control(wsframe::pong, std::string(payload, len)) == send_result::over_cap)
        return overrun();
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
      if (!fragments_binary_ && !text_valid_so_far(h.fin))
        return protocol_failure(wsframe::invalid_payload);
      if (h.fin) {
        fragmented_ = false;
        deliver(fragments_binary_, std::move(fragments_));
        fragments_.clear();
      }
      return;
    default: // text or binary
      if (fragmented_)
        return protocol_failure(wsframe::protocol_error);
      if (!h.fin) {
        fragmented_ = true;
        fragments_binary_ = h.op == wsframe::binary;
        fragments_.assign(payload, len);
        utf8_checked_ = 0;
        if (!fragments_binary_ && !text_valid_so_far(false))
          return protocol_failure(wsframe::invalid_payload);
        return;
      }
      if (h.op == wsframe::text && !wsframe::is_utf8({payload, len}))
        return protocol_failure(wsframe::invalid_payload);
      deliver(h.op == wsframe::binary, std::string(payload, len));
    }
  }

  /// Checks the text fragments received since the last check, so a fragmented message is
  /// read once and refused at its first bad byte; a code point cut between two fragments
  /// waits for the next one, and must be whole by the last (`fin`).
  bool text_valid_so_far(bool fin) {
    auto r = wsframe::check_utf8(std::string_view(fragments_).substr(utf8_checked_));
    if (!r.valid)
      return false;
    utf8_checked_ += r.complete;
    return !fin || utf8_checked_ == fragments_.size();
  }

  void deliver(bool binary, std::string data) {
    auto unhandled = inbound_.fetch_add(data.size(), std::memory_order_acq_rel) + data.size();
    if (sink_)
      sink_->on_message(binary, std::move(data));
    if (unhandled > max_inbound_bytes_ && inbound_.load(std::memory_order_acquire) > max_inbound_bytes_ / 2)
      paused_ = true; // consumed() resumes; the receiver holds this session meanwhile
  }

  /// Queues a pong, or our close frame, unless the session is already saying goodbye.
  /// Both count against the cap: a pong over it is refused (over_cap: the client sends
  /// but does not read), a close always goes (one per session, bounded by the close timer).
  send_result control(std::uint8_t op, std::string payload) {
    std::lock_guard<std::mutex> guard(mutex_);
    if (closing_)
      return send_result::closed;
    auto cost = queue_cost(op, payload.size());
    if (op == wsframe::close) {
      closing_ = true;
      queued_.fetch_add(cost, std::memory_order_relaxed);
    } else if (auto admitted = admit(cost); admitted != send_result::queued) {
      return admitted;
    }
    pending_.push_back({op, std::make_shared<const std::string>(std::move(payload))});
    schedule_flush();
    return send_result::queued;
  }

  void protocol_failure(wsframe::close_code code) {
    control(wsframe::close, wsframe::close_payload(code, {}));
    notify("transport error");
  }

  /// Pongs passed the cap: the client sends pings but does not read. It is dropped at
  /// once, with what is queued for it.
  void overrun() {
    notify("transport error");
    drop();
  }

  void drop() {
    closed_.store(true, std::memory_order_release);
    std::vector<out_frame> unsent; // freed outside the lock
    {
      std::lock_guard<std::mutex> guard(mutex_);
      closing_ = true;
      dropped_ = true;
      unsent.swap(pending_);
      for (auto& f : unsent)
        queued_.fetch_sub(queue_cost(f.op, f.data->size()), std::memory_order_relaxed);
    }
    close_timer_.cancel();
    error_code ignored;
    socket_.close(ignored); // pending operations end now
  }

  void fail(error_code ec) {
    closed_.store(true, std::memory_order_release);
    bool orderly = ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::operation_aborted
                   || ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor;
    notify(orderly ? "transport close" : "transport error");
    drop();
  }

  /// Tells the application once that the connection is gone; reading stops.
  void notify(const char* reason) {
    closed_.store(true, std::memory_order_release);
    if (notified_)
      return;
    notified_ = true;
    if (sink_)
      sink_->on_close(reason);
    sink_.reset();
    if (shutdown_sent_)
      return drop(); // our close frame went out before the peer's came
    // The goodbye (if any) is queued; bound how long the peer may take to read it.
    close_timer_.expires_after(std::chrono::seconds(5));
    close_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->drop();
    });
  }

  tcp::socket socket_;
  asio::io_context& ioc_;
  std::chrono::microseconds write_delay_;
  asio::steady_timer close_timer_;
  std::size_t max_queue_bytes_;
  std::size_t max_inbound_bytes_;
  std::size_t max_message_bytes_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> inbound_{0};
  std::atomic<bool> closed_{false};

  // Shared with senders, under mutex_.
  std::mutex mutex_;
  std::vector<out_frame> pending_;
  bool scheduled_ = false; // a flush is posted or a write is under way
  bool closing_ = false;   // a close frame is queued or the session is dropped
  bool dropped_ = false;

  // The strand's own.
  std::vector<out_frame> inflight_;
  std::size_t inflight_bytes_ = 0;
  std::vector<unsigned char> out_;
  struct piece {
    bool in_out; // in out_ (at offset), or a large payload written in place
    std::size_t offset, size;
    const std::string* data;
  };
  std::vector<piece> pieces_;
  std::vector<asio::const_buffer> buffers_;
  bool close_sent_ = false;
  bool shutdown_sent_ = false;
  std::string rx_;
  std::string fragments_;
  std::size_t utf8_checked_ = 0; // bytes of a fragmented text message found UTF-8
  bool fragmented_ = false;
  bool fragments_binary_ = false;
  bool paused_ = false;
  bool notified_ = false;
  std::shared_ptr<ws_sink> sink_;
};

// -- write batches ------------------------------------------------------------------

} // namespace

struct write_batch::state {
  std::vector<std::shared_ptr<ws_session>> sessions;
};

namespace {

// The flushes of one batch, a chunk at a time: after each chunk the rest goes to the back
// of the I/O queue, so reads and actors (which share these threads, see io_scheduler) run
// in between, and frames they queue for sessions not flushed yet leave in the same write.
// Flushing 5000 sessions in one go (~20 ms) let each write carry one frame while the
// broadcasts behind it waited.
struct chunked_flush : std::enable_shared_from_this<chunked_flush> {
  static constexpr std::size_t chunk = 128;
  std::vector<std::shared_ptr<ws_session>> sessions;
  asio::io_context& ioc;
  std::size_t next = 0;

  chunked_flush(std::vector<std::shared_ptr<ws_session>> s, asio::io_context& c) : sessions(std::move(s)), ioc(c) {}

  void run() {
    auto end = std::min(next + chunk, sessions.size());
    for (; next < end; ++next) {
      sessions[next]->flush_from_batch();
      sessions[next].reset();
    }
    if (next < sessions.size())
      asio::post(ioc, [self = shared_from_this()] { self->run(); });
  }
};

thread_local write_batch::state* current_state = nullptr; // the active collector, if any

bool write_batch_collect(std::shared_ptr<ws_session> s) {
  if (!current_state)
    return false;
  current_state->sessions.push_back(std::move(s));
  return true;
}

// -- HTTP session ----------------------------------------------------------------

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, const server_options& opts, std::shared_ptr<handler> h, asio::io_context& ioc)
      : stream_(std::move(socket)), opts_(opts), handler_(std::move(h)), ioc_(ioc) {}

  void run() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

  // Called through reply_impl from any thread.
  void answer(response r) {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), r = std::move(r)]() mutable { self->write_response(std::move(r)); });
  }

  bool peer_gone() const { return gone_.load(std::memory_order_relaxed); }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(opts_.max_body_bytes);
    parser_->header_limit(max_header_bytes);
    stream_.expires_after(opts_.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec == bhttp::error::body_limit) {
      // The reference answers an oversized polling body with 413 and drops it.
      keep_alive_ = false;
      return write_response(response::text(413, "Payload Too Large"));
    }
    if (ec) {
      gone_ = true;
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    stream_.expires_never(); // A long-polling GET may wait for pingInterval.
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();

    request req = to_request(msg);
    error_code ep_ec;
    auto ep = stream_.socket().remote_endpoint(ep_ec);
    if (!ep_ec)
      req.remote_address = ep.address().to_string();

    if (req.websocket_upgrade) {
      auto decision = handler_->on_upgrade(req);
      if (decision.refuse)
        return write_response(std::move(*decision.refuse));
      auto* key = req.header("sec-websocket-key");
      auto* version = req.header("sec-websocket-version");
      if (!key || key->empty() || !version || *version != "13") {
        keep_alive_ = false;
        auto refusal = response::text(400, "Bad WebSocket handshake");
        refusal.headers.emplace_back("Sec-WebSocket-Version", "13");
        return write_response(std::move(refusal));
      }
      std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: "
                           + wsframe::accept_key(*key) + "\r\nServer: chat-server\r\n\r\n";
      std::string leftover = beast::buffers_to_string(buffer_.data());
      auto ws = std::make_shared<ws_session>(stream_.release_socket(), opts_, ioc_);
      ws->start(std::move(answer), std::move(leftover), std::move(decision.attach), decision.answer_alone);
      return; // The WebSocket session owns the socket now.
    }
    handler_->on_request(std::move(req), make_reply());
  }

  reply_ptr make_reply();

  void write_response(response r) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(version_);
    res->set(bhttp::field::server, "chat-server");
    for (auto& [k, v] : r.headers)
      res->set(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    // A client that never reads its answer must not hold the session for ever.
    stream_.expires_after(std::chrono::seconds(30));
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](error_code ec, std::size_t) {
      self->on_write(ec, res->need_eof());
    });
  }

  void on_write(error_code ec, bool close) {
    if (ec) {
      gone_ = true;
      return;
    }
    if (close) {
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    do_read();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const server_options& opts_;
  std::shared_ptr<handler> handler_;
  asio::io_context& ioc_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::atomic<bool> gone_{false};
};

class reply_impl final : public reply {
public:
  explicit reply_impl(std::shared_ptr<http_session> s) : session_(std::move(s)) {}
  ~reply_impl() override {
    if (!answered_.exchange(true))
      session_->answer(response::text(500, "Internal Server Error"));
  }
  void send(response r) override {
    if (answered_.exchange(true))
      return;
    session_->answer(std::move(r));
  }
  bool closed() const override { return session_->peer_gone(); }

private:
  std::shared_ptr<http_session> session_;
  std::atomic<bool> answered_{false};
};

reply_ptr http_session::make_reply() {
  return std::make_shared<reply_impl>(shared_from_this());
}

} // namespace

// -- listener and threads ----------------------------------------------------------

struct server::impl {
  server_options opts;
  std::shared_ptr<handler> h;
  // With one I/O thread, Asio queues what that thread posts to itself without locking.
  asio::io_context ioc{static_cast<int>(std::max<std::size_t>(1, opts.io_threads))};
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  std::vector<std::thread> threads;
  std::atomic<bool> accepting{false};
  std::function<void(int)> signal_fn;
  std::mutex stop_mutex;
  bool stopped = false;

  impl(server_options o, std::shared_ptr<handler> hh) : opts(std::move(o)), h(std::move(hh)) {}

  void do_accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
      if (!accepting.load())
        return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<http_session>(std::move(socket), opts, h, ioc)->run();
      } else if (ec != asio::error::operation_aborted) {
        // Out of descriptors or similar: retry shortly instead of spinning.
        auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor(), std::chrono::milliseconds(100));
        timer->async_wait([this, timer](error_code) { do_accept(); });
        return;
      }
      do_accept();
    });
  }
};

server::server(server_options opts, std::shared_ptr<handler> h)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(h))) {}

server::~server() {
  stop();
}

std::uint16_t server::start() {
  auto& i = *impl_;
  tcp::endpoint ep{asio::ip::make_address(i.opts.host), i.opts.port};
  i.acceptor.open(ep.protocol());
  i.acceptor.set_option(asio::socket_base::reuse_address(true));
  i.acceptor.bind(ep);
  i.acceptor.listen(asio::socket_base::max_listen_connections);
  i.accepting = true;
  i.do_accept();
  i.signals.async_wait([&i](error_code ec, int sig) {
    if (!ec && i.signal_fn)
      i.signal_fn(sig);
  });
  auto n = std::max<std::size_t>(1, i.opts.io_threads);
  for (std::size_t k = 0; k < n; ++k)
    i.threads.emplace_back([&i] { i.ioc.run(); });
  return i.acceptor.local_endpoint().port();
}

void server::stop_accepting() {
  auto& i = *impl_;
  asio::post(i.acceptor.get_executor(), [&i] {
    i.accepting = false;
    error_code ignored;
    i.acceptor.close(ignored);
  });
}

void server::stop() {
  std::lock_guard<std::mutex> guard(impl_->stop_mutex);
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  impl_->accepting = false;
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
}

write_batch::write_batch() : state_(std::make_unique<state>()) {}

write_batch::~write_batch() {
  flush();
}

write_batch::scope::scope(write_batch& batch) : previous_(current_state) {
  current_state = batch.state_.get();
}

write_batch::scope::~scope() {
  current_state = previous_;
}

bool write_batch::empty() const {
  return state_->sessions.empty();
}

void write_batch::flush() {
  if (state_->sessions.empty())
    return;
  auto sessions = std::move(state_->sessions);
  state_->sessions.clear();
  // One job per I/O context (there is one per server) instead of one post per session.
  auto& ioc = sessions.front()->io_context();
  auto delay = sessions.front()->write_delay();
  auto run = [job = std::make_shared<chunked_flush>(std::move(sessions), ioc)] { job->run(); };
  // Only a busy server waits: after a quiet spell the first broadcast goes at once, so
  // the delay costs latency only where it saves writes.
  static std::atomic<std::int64_t> last_flush_ns{0};
  auto now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  auto quiet = now - last_flush_ns.exchange(now, std::memory_order_relaxed) > 10'000'000; // 10 ms
  if (delay.count() <= 0 || quiet)
    return asio::post(ioc, std::move(run));
  // Frames that reach these connections meanwhile join the same write.
  auto timer = std::make_shared<asio::steady_timer>(ioc, delay);
  timer->async_wait([timer, run = std::move(run)](error_code) { run(); });
}

void server::on_signal(std::function<void(int)> fn) {
  impl_->signal_fn = std::move(fn);
}

asio::io_context& server::io_context() {
  return impl_->ioc;
}

} // namespace sio::http

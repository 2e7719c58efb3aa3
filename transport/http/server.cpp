// Beast listener, HTTP session and WebSocket session, after Beast's chat-multi example:
// each async step continues in an on_* member holding shared_from_this(), and every
// error goes through one place.
#include "transport/http/server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
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

class ws_session final : public ws_channel, public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& socket, const server_options& opts)
      : ws_(std::move(socket)), close_timer_(ws_.get_executor()), max_queue_bytes_(opts.max_queue_bytes),
        max_inbound_bytes_(opts.max_inbound_bytes) {
    ws_.read_message_max(opts.max_body_bytes);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = websocket::stream_base::none(); // Engine.IO's heartbeat decides.
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "chat-server"); }));
  }

  template <class Body>
  void accept(bhttp::request<Body> req, std::function<std::shared_ptr<ws_sink>(ws_channel_ptr)> attach) {
    attach_ = std::move(attach);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  send_result send(std::vector<ws_message> messages) override {
    if (closed_.load(std::memory_order_acquire))
      return send_result::closed;
    std::size_t bytes = 0;
    for (auto& m : messages)
      bytes += m.data ? m.data->size() : 0;
    auto before = queued_.load(std::memory_order_relaxed);
    // One oversized message on an empty queue still goes: the cap bounds the backlog.
    if (before > 0 && before + bytes > max_queue_bytes_)
      return send_result::over_cap;
    queued_.fetch_add(bytes, std::memory_order_relaxed);
    asio::post(ws_.get_executor(), [self = shared_from_this(), msgs = std::move(messages)]() mutable {
      if (self->close_requested_) { // too late: the goodbye is on its way
        for (auto& m : msgs)
          self->queued_.fetch_sub(m.data ? m.data->size() : 0, std::memory_order_relaxed);
        return;
      }
      for (auto& m : msgs)
        self->queue_.push_back(std::move(m));
      if (!self->writing_)
        self->do_write();
    });
    return send_result::queued;
  }

  std::size_t queued_bytes() const override { return queued_.load(std::memory_order_relaxed); }

  void close(std::uint16_t code, std::string reason) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      if (self->close_requested_)
        return;
      self->close_requested_ = true;
      self->close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
      // A peer that stops reading would hold the session forever: bound the goodbye.
      self->close_timer_.expires_after(std::chrono::seconds(5));
      self->close_timer_.async_wait([self](error_code ec) {
        if (!ec)
          self->drop();
      });
      if (!self->writing_)
        self->do_close();
    });
  }

  void abort() override {
    closed_.store(true, std::memory_order_release);
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->drop(); });
  }

private:
  void on_accept(error_code ec) {
    if (ec)
      return; // The handshake failed: nothing was attached yet.
    sink_ = attach_(shared_from_this());
    attach_ = nullptr;
    do_read();
  }

  void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this())); }

  void on_read(error_code ec, std::size_t) {
    if (ec)
      return fail(ec);
    auto data = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > 64 * 1024)
      buffer_.shrink_to_fit(); // Release a large message's buffer once it is handled.
    auto unhandled = inbound_.fetch_add(data.size(), std::memory_order_acq_rel) + data.size();
    if (sink_)
      sink_->on_message(ws_.got_binary(), std::move(data));
    if (unhandled > max_inbound_bytes_) {
      paused_ = true; // consumed() resumes; the receiver holds this session meanwhile
      if (inbound_.load(std::memory_order_acquire) > max_inbound_bytes_ / 2)
        return;
      paused_ = false;
    }
    do_read();
  }

public:
  void consumed(std::size_t bytes) override {
    auto left = inbound_.fetch_sub(bytes, std::memory_order_acq_rel) - bytes;
    if (left <= max_inbound_bytes_ / 2) {
      asio::post(ws_.get_executor(), [self = shared_from_this()] {
        if (self->paused_ && !self->notified_) {
          self->paused_ = false;
          self->do_read();
        }
      });
    }
  }

private:
  void do_write() {
    if (queue_.empty()) {
      writing_ = false;
      if (close_requested_)
        do_close();
      return;
    }
    writing_ = true;
    auto& front = queue_.front();
    ws_.binary(front.binary);
    ws_.async_write(asio::buffer(*front.data), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    auto size = queue_.front().data->size();
    queue_.pop_front();
    queued_.fetch_sub(size, std::memory_order_relaxed);
    if (ec) {
      writing_ = false;
      return fail(ec);
    }
    do_write();
  }

  void do_close() {
    if (close_sent_)
      return;
    close_sent_ = true;
    closed_.store(true, std::memory_order_release);
    ws_.async_close(close_reason_, [self = shared_from_this()](error_code) {
      // The read loop ends with `closed` once the peer answers; nothing to do here.
    });
  }

  void drop() {
    closed_.store(true, std::memory_order_release);
    close_timer_.cancel();
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored); // pending operations end now
  }

  void fail(error_code ec) {
    closed_.store(true, std::memory_order_release);
    if (notified_)
      return;
    notified_ = true;
    bool orderly = ec == websocket::error::closed || ec == asio::error::eof || ec == asio::error::connection_reset
                   || ec == asio::error::operation_aborted || ec == asio::error::broken_pipe;
    if (sink_)
      sink_->on_close(orderly ? "transport close" : "transport error");
    sink_.reset();
    drop();
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer close_timer_;
  beast::flat_buffer buffer_;
  std::deque<ws_message> queue_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> closed_{false};
  std::size_t max_queue_bytes_;
  std::size_t max_inbound_bytes_;
  std::atomic<std::size_t> inbound_{0};
  bool paused_ = false;
  bool writing_ = false;
  bool close_requested_ = false;
  bool close_sent_ = false;
  bool notified_ = false;
  websocket::close_reason close_reason_;
  std::function<std::shared_ptr<ws_sink>(ws_channel_ptr)> attach_;
  std::shared_ptr<ws_sink> sink_;
};

// -- HTTP session ----------------------------------------------------------------

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, const server_options& opts, std::shared_ptr<handler> h)
      : stream_(std::move(socket)), opts_(opts), handler_(std::move(h)) {}

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
    parser_->header_limit(16 * 1024);
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

    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto url = boost::urls::parse_origin_form(req.target);
    if (url) {
      req.path = url->path();
      req.query = parse_query(url->encoded_query());
    } else {
      req.path = req.target;
    }
    for (auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    error_code ep_ec;
    auto ep = stream_.socket().remote_endpoint(ep_ec);
    if (!ep_ec)
      req.remote_address = ep.address().to_string();
    req.websocket_upgrade = websocket::is_upgrade(msg);

    if (req.websocket_upgrade) {
      auto decision = handler_->on_upgrade(req);
      if (decision.refuse)
        return write_response(std::move(*decision.refuse));
      auto ws = std::make_shared<ws_session>(stream_.release_socket(), opts_);
      ws->accept(parser_->release(), std::move(decision.attach));
      return; // The WebSocket session owns the socket now.
    }
    req.body = std::move(msg.body());
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
  asio::io_context ioc;
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
        std::make_shared<http_session>(std::move(socket), opts, h)->run();
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

void server::on_signal(std::function<void(int)> fn) {
  impl_->signal_fn = std::move(fn);
}

} // namespace sio::http

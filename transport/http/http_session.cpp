// After Beast's chat-multi example: each async step continues in an on_* member holding
// shared_from_this(), and every way the connection ends goes through fail().
//
// Time limits, one timer: a request's headers must arrive within header_timeout (counted
// from accept for the first request, from its first byte for the next ones), its body
// within body_timeout; past either the answer is 408 and the connection closes. Between
// keep-alive requests the connection may stay idle for keep_alive_timeout, then closes
// without an answer (nothing was asked). An answer must be taken by the client within
// write_timeout. While the application handles a request (a long-polling GET waits up
// to pingInterval) no timer runs.
#include "transport/http/http_session.hpp"

#include "transport/http/request.hpp"

#include "transport/http/content_coding.hpp"
#include "transport/http/permessage_deflate.hpp"
#include "transport/http/ws_frame.hpp"
#include "transport/http/ws_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace sio::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;

constexpr std::chrono::seconds write_timeout{30};

/// Beast's errors for bytes that are not HTTP/1.1: answered 400 and closed, as Node's
/// llhttp does (the rest, a client gone or a limit, have their own answers).
bool malformed(error_code ec) {
  switch (static_cast<bhttp::error>(ec.value())) {
  case bhttp::error::bad_line_ending:
  case bhttp::error::bad_method:
  case bhttp::error::bad_target:
  case bhttp::error::bad_version:
  case bhttp::error::bad_field:
  case bhttp::error::bad_value:
  case bhttp::error::bad_content_length:
  case bhttp::error::bad_transfer_encoding:
  case bhttp::error::bad_chunk:
  case bhttp::error::bad_chunk_extension:
  case bhttp::error::bad_obs_fold:
  case bhttp::error::multiple_content_length:
  case bhttp::error::unexpected_body:
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
  default:
    return false;
  }
}

/// What Beast accepts but a request must not carry (RFC 9112): HTTP/1.1 without exactly
/// one Host (section 3.2), and a Transfer-Encoding whose last coding is not chunked
/// (section 6.3: its length is unknowable, the classic request-smuggling shape).
bool acceptable_head(const bhttp::request<bhttp::string_body>& msg) {
  auto hosts = msg.count(bhttp::field::host);
  if (msg.version() >= 11 ? hosts != 1 : hosts > 1)
    return false;
  auto te = msg.find(bhttp::field::transfer_encoding);
  if (te == msg.end())
    return true;
  if (msg.count(bhttp::field::transfer_encoding) > 1)
    return false;
  auto codings = std::string(te->value());
  auto last = codings.substr(codings.find_last_of(',') == std::string::npos ? 0 : codings.find_last_of(',') + 1);
  auto first = last.find_first_not_of(" \t");
  auto end = last.find_last_not_of(" \t");
  return first != std::string::npos && beast::iequals(last.substr(first, end - first + 1), "chunked");
}

/// Every value of the headers named `name` (lowercase), in order.
std::vector<std::string_view> values(const request& req, std::string_view name) {
  std::vector<std::string_view> out;
  for (auto& [k, v] : req.headers)
    if (k == name)
      out.emplace_back(v);
  return out;
}

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(stream&& s, const server_options& opts, std::shared_ptr<const trusted_proxies> proxies,
               std::shared_ptr<handler> h, asio::io_context& ioc, connection_slot slot)
      : stream_(std::move(s)), timer_(stream_.get_executor()), opts_(opts), proxies_(std::move(proxies)),
        handler_(std::move(h)), ioc_(ioc), slot_(std::move(slot)) {}

  void run() {
    if (stream_.is_tls())
      return asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->tls_first_byte(); });
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&http_session::read_request, shared_from_this()));
  }

  // Called through reply_impl from any thread.
  void answer(response r) {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), r = std::move(r)]() mutable { self->write_response(std::move(r)); });
  }

  bool peer_gone() const { return gone_.load(std::memory_order_relaxed); }

private:
  enum class phase { idle, headers, body, handling, writing };

  void arm(phase p, std::chrono::steady_clock::duration limit) {
    if (gone_)
      return; // a step queued before fail() must not hold the session for a whole limit
    phase_ = p;
    timer_.expires_after(limit);
    timer_.async_wait([self = shared_from_this(), armed = ++armed_](error_code ec) {
      if (!ec && armed == self->armed_) // not re-armed meanwhile
        self->on_timeout();
    });
  }

  void disarm(phase p) {
    phase_ = p;
    ++armed_;
    timer_.cancel();
  }

  void on_timeout() {
    switch (phase_) {
    case phase::idle:
      return fail({}, "keep-alive timeout");
    case phase::headers:
    case phase::body: {
      // The read ends with operation_aborted and answers 408 (see on_read).
      timed_out_ = true;
      error_code ignored;
      stream_.socket().cancel(ignored);
      return;
    }
    case phase::writing:
      return fail({}, "write timeout");
    case phase::handling:
      return;
    }
  }

  // -- TLS: the handshake before the first request --

  /// A client's first byte on the TLS port: a TLS handshake record (22), or a request in
  /// plain HTTP, which gets a plain 400 saying where it went rather than a reset.
  void tls_first_byte() {
    arm(phase::headers, opts_.header_timeout);
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      if (ec)
        return self->fail(ec, "tls wait");
      unsigned char first = 0;
      error_code peek_ec;
      auto n = self->stream_.socket().receive(asio::buffer(&first, 1), tcp::socket::message_peek, peek_ec);
      if (peek_ec || n == 0)
        return self->fail(peek_ec, "tls peek");
      if (first != 22)
        return self->plain_on_tls_port();
      self->stream_.tls().async_handshake(asio::ssl::stream_base::server, [self](error_code hec) {
        if (hec)
          return self->fail(hec, "tls handshake");
        self->read_request();
      });
    });
  }

  void plain_on_tls_port() {
    // Written on the socket as it is (nothing of TLS has happened), then closed. What the
    // client sent is read first (up to 16 KiB), so that the close does not reset the
    // connection before the client reads the answer.
    error_code ignored;
    char sink[4096];
    stream_.socket().non_blocking(true, ignored);
    for (int i = 0; i < 4 && stream_.socket().available(ignored) > 0; ++i)
      stream_.socket().read_some(asio::buffer(sink), ignored);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status::bad_request, 11);
    res->set(bhttp::field::server, "chat-server");
    res->set(bhttp::field::content_type, "text/plain; charset=UTF-8");
    res->body() = "This port speaks TLS: use https:// or wss://\n";
    res->keep_alive(false);
    res->prepare_payload();
    arm(phase::writing, write_timeout);
    bhttp::async_write(stream_.socket(), *res, [self = shared_from_this(), res](error_code ec, std::size_t) {
      self->fail(ec, "plain HTTP on the TLS port");
    });
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(opts_.max_body_bytes);
    parser_->header_limit(max_header_bytes);
    arm(phase::headers, opts_.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&http_session::on_header, shared_from_this()));
  }

  void on_header(error_code ec, std::size_t) {
    if (!ec && !timed_out_ && !acceptable_head(parser_->get()))
      return refuse(response::text(400, "Bad Request"));
    if (ec || timed_out_ || parser_->is_done())
      return on_read(ec, 0);
    arm(phase::body, opts_.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  /// Between keep-alive requests: waits for the next request's first byte.
  void wait_next_request() {
    if (buffer_.size() > 0)
      return read_request(); // pipelined: its header time runs from now
    buffer_.shrink_to_fit(); // an idle connection keeps no read buffer
    arm(phase::idle, opts_.keep_alive_timeout);
    if (stream_.is_tls()) {
      // Bytes may wait decrypted inside TLS: read through it (a small buffer while idle).
      stream_.async_read_some(buffer_.prepare(512), [self = shared_from_this()](error_code ec, std::size_t n) {
        if (ec)
          return self->fail(ec, "keep-alive wait");
        self->buffer_.commit(n);
        self->read_request();
      });
      return;
    }
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
      if (ec)
        return self->fail(ec, "keep-alive wait");
      self->read_request();
    });
  }

  void on_read(error_code ec, std::size_t) {
    if (timed_out_) {
      timed_out_ = false;
      return refuse(response::text(408, "Request Timeout"));
    }
    // The reference answers an oversized polling body with 413 and drops it.
    if (ec == bhttp::error::body_limit)
      return refuse(response::text(413, "Payload Too Large"));
    if (ec == bhttp::error::header_limit) {
      // No line end in what was read: the request line alone is over the limit.
      auto head = beast::buffers_to_string(buffer_.data());
      if (head.find('\n') == std::string::npos)
        return refuse(response::text(414, "URI Too Long"));
      return refuse(response::text(431, "Request Header Fields Too Large"));
    }
    if (malformed(ec))
      return refuse(response::text(400, "Bad Request"));
    if (ec)
      return fail(ec, "read");
    disarm(phase::handling); // A long-polling GET may wait for pingInterval.
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_ = msg.method() == bhttp::verb::head;

    request req = to_request(msg);
    error_code ep_ec;
    auto ep = stream_.socket().remote_endpoint(ep_ec);
    if (!ep_ec)
      req.remote_address = proxies_->empty() ? ep.address().to_string()
                                             : proxies_->client_address(ep.address(), values(req, "x-forwarded-for"));
    auto* accepted = req.header("accept-encoding");
    accept_encoding_ = accepted ? *accepted : std::string();

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
      std::optional<permessage_deflate::agreement> deflate;
      if (opts_.per_message_deflate) {
        std::string offers;
        for (auto v : values(req, "sec-websocket-extensions"))
          offers.append(offers.empty() ? "" : ",").append(v);
        deflate = permessage_deflate::accept(offers);
      }
      std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: "
                           + wsframe::accept_key(*key) + "\r\n";
      if (deflate)
        answer += "Sec-WebSocket-Extensions: " + deflate->answer() + "\r\n";
      answer += "Server: chat-server\r\n\r\n";
      std::string leftover = beast::buffers_to_string(buffer_.data());
      auto ws = std::make_shared<ws_session>(std::move(stream_), opts_, ioc_, std::move(slot_),
                                             deflate ? deflate->window_bits : 0);
      ws->start(std::move(answer), std::move(leftover), std::move(decision.attach), decision.answer_alone);
      return; // The WebSocket session owns the socket (and its slot) now.
    }
    handler_->on_request(std::move(req), make_reply());
  }

  reply_ptr make_reply();

  /// An answer to a request that ends the connection: what follows it on the wire is not
  /// read (after a malformed request, where the next one starts cannot be known).
  void refuse(response r) {
    keep_alive_ = false;
    write_response(std::move(r));
  }

  void write_response(response r) {
    if (gone_)
      return;
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(version_);
    res->set(bhttp::field::server, "chat-server");
    for (auto& [k, v] : r.headers)
      res->set(k, v);
    if (r.compressible && opts_.http_compression) {
      res->set(bhttp::field::vary, "Accept-Encoding");
      if (r.body.size() >= opts_.http_compression_threshold && !head_) {
        auto coding = content_coding::choose(accept_encoding_);
        if (coding != content_coding::coding::identity) {
          r.body = content_coding::encode(r.body, coding);
          res->set(bhttp::field::content_encoding, content_coding::name(coding));
        }
      }
    }
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    if (head_)
      res->body().clear(); // Content-Length stays the GET answer's (RFC 9110 9.3.2)
    // A client that never reads its answer must not hold the session for ever.
    arm(phase::writing, write_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](error_code ec, std::size_t) {
      self->on_write(ec, res->need_eof());
    });
  }

  void on_write(error_code ec, bool close) {
    if (ec)
      return fail(ec, "write");
    if (close)
      return fail({}, "answered, connection: close");
    wait_next_request();
  }

  /// The one way out: logged at debug, the session marked gone, the socket closed and its
  /// slot released (the connection counts stay exact).
  void fail(error_code ec, const char* what) {
    if (gone_.exchange(true))
      return;
    spdlog::debug("http {}: {}{}{}", slot_.address(), what, ec ? ": " : "", ec ? ec.message() : "");
    disarm(phase::handling);
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
    slot_.release();
  }

  stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  const server_options& opts_;
  std::shared_ptr<const trusted_proxies> proxies_;
  std::shared_ptr<handler> handler_;
  asio::io_context& ioc_;
  connection_slot slot_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  phase phase_ = phase::headers;
  unsigned armed_ = 0; // which arm() a firing timer belongs to
  bool timed_out_ = false;
  bool keep_alive_ = true;
  bool head_ = false; // the request is a HEAD: the answer's headers (Content-Length too), no body
  unsigned version_ = 11;
  std::string accept_encoding_; // the request's, for its answer's content coding
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

void start_http_session(stream&& s, const server_options& opts, std::shared_ptr<const trusted_proxies> proxies,
                        std::shared_ptr<handler> h, asio::io_context& ioc, connection_slot slot) {
  std::make_shared<http_session>(std::move(s), opts, std::move(proxies), std::move(h), ioc, std::move(slot))->run();
}

} // namespace sio::http

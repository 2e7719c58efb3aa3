// HTTP and WebSocket front end on Boost.Beast. This header holds no Beast: the rest of
// the project sees requests, replies and WebSocket channels through these small types,
// and Beast itself is seen by http_session.cpp and asio_impl.cpp only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace sio::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// The value of the first entry named `name`, or nullptr.
const std::string* find_value(const header_list& list, std::string_view name);

/// What the router needs to know about a request. Header names are lowercase.
struct request {
  std::string method; // "GET", "POST", ...
  std::string target; // raw target, path plus query
  std::string path;   // decoded path
  header_list query;  // decoded query parameters, in order
  header_list headers;
  std::string remote_address;
  std::string body;
  bool websocket_upgrade = false;

  const std::string* header(std::string_view name) const;
  const std::string* param(std::string_view name) const;
};

struct response {
  int status = 200;
  header_list headers;
  std::string body;
  /// May be sent gzip- or deflate-coded when the request accepts it and the body is at
  /// least server_options::http_compression_threshold (the polling payloads).
  bool compressible = false;

  static response json(int status, std::string body);
  static response text(int status, std::string body, std::string content_type = "text/plain; charset=UTF-8");
};

/// Answers one HTTP request, from any thread, exactly once (later calls are ignored).
/// Dropping the last reference without answering answers 500.
class reply {
public:
  virtual ~reply() = default;
  virtual void send(response r) = 0;
  /// True once the peer is known to be gone (the answer would go nowhere).
  virtual bool closed() const = 0;
};
using reply_ptr = std::shared_ptr<reply>;

/// One outgoing WebSocket message; the bytes are shared so that a broadcast encodes once.
struct ws_message {
  bool binary = false;
  std::shared_ptr<const std::string> data;
};

/// Receives what a WebSocket peer sends. Called on an I/O thread; must not block.
class ws_sink {
public:
  virtual ~ws_sink() = default;
  virtual void on_message(bool binary, std::string data) = 0;
  /// The connection is gone; `reason` says why ("transport close", "transport error").
  virtual void on_close(std::string reason) = 0;
};

/// The sending half of an accepted WebSocket. Thread-safe: writes are posted to the
/// session's strand, one write is outstanding at a time, and the queue is bounded.
class ws_channel {
public:
  virtual ~ws_channel() = default;
  enum class send_result { queued, over_cap, closed };
  /// Queues messages in order. Over the byte cap nothing is queued and the caller
  /// decides (drop a volatile packet, or close the connection).
  virtual send_result send(std::vector<ws_message> messages) = 0;
  /// The same for one message (no vector on the broadcast path).
  virtual send_result send(ws_message message) = 0;
  /// Bytes queued and not yet written, the session's own pongs and close frames included
  /// (each counted with its bookkeeping).
  virtual std::size_t queued_bytes() const = 0;
  /// Sends a close frame after the queued messages and ends the session.
  virtual void close(std::uint16_t code = 1000, std::string reason = {}) = 0;
  /// Drops the connection at once, queued messages included: for a client that does not
  /// read, whose writes would never finish.
  virtual void abort() = 0;
  /// Flow control for incoming messages: the receiver reports the bytes it has handled.
  /// The session stops reading while more than `max_inbound_bytes` are unhandled, so a
  /// client that sends faster than the server handles waits in TCP instead of in memory.
  virtual void consumed(std::size_t bytes) = 0;
};
using ws_channel_ptr = std::shared_ptr<ws_channel>;

/// Flushes of WebSocket sessions collected instead of posted one by one. While a
/// collector is active on a thread, a send made on that thread that would post a flush to
/// its session's strand records the session here instead; flush() hands them all to the
/// I/O thread as one job. A broadcast to a thousand connections then costs one wake-up of
/// the I/O thread instead of a thousand, and an actor that keeps the collection across
/// several broadcasts (while more are waiting in its mailbox) sends each connection their
/// frames in one write.
class write_batch {
public:
  write_batch();
  /// Flushes what is left.
  ~write_batch();
  write_batch(const write_batch&) = delete;
  write_batch& operator=(const write_batch&) = delete;

  struct state;

  /// Makes `batch` the collector of this thread for its lifetime (they nest).
  class scope {
  public:
    explicit scope(write_batch& batch);
    ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

  private:
    state* previous_;
  };

  /// Posts one job that flushes every collected session.
  void flush();
  bool empty() const;

private:
  std::unique_ptr<state> state_;
};

/// The application side of the front end, implemented by the actor layer.
class handler {
public:
  virtual ~handler() = default;
  /// Any plain HTTP request. Answer through `r`, now or later, from any thread.
  virtual void on_request(request req, reply_ptr r) = 0;

  /// Decision on a WebSocket upgrade, taken on the I/O thread without blocking.
  struct upgrade_decision {
    std::optional<response> refuse;
    /// Called once the handshake is done; returns where incoming messages go.
    std::function<std::shared_ptr<ws_sink>(ws_channel_ptr)> attach;
    /// Write the 101 on its own rather than with the first frames (a syscall more).
    bool answer_alone = false;
  };
  virtual upgrade_decision on_upgrade(const request& req) = 0;
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3001;
  std::size_t io_threads = 1;
  /// Largest request body and WebSocket message accepted.
  std::size_t max_body_bytes = 1000000;
  /// A WebSocket's queued outgoing bytes above which send() refuses. The session's own
  /// control frames count too: past it, a pong or close drops the client (it does not
  /// read), with `transport error`.
  std::size_t max_queue_bytes = 8 * 1024 * 1024;
  /// Received WebSocket bytes not yet handled above which reading pauses.
  std::size_t max_inbound_bytes = 1024 * 1024;
  /// Time to send a request's headers, from accept for the first request and from its
  /// first byte for the next ones (slowloris); past it the answer is 408.
  std::chrono::milliseconds header_timeout{10000};
  /// Time to send a request's body once its headers are in; past it the answer is 408.
  std::chrono::milliseconds body_timeout{120000};
  /// How long a keep-alive connection may wait idle for its next request.
  std::chrono::milliseconds keep_alive_timeout{65000};
  /// TCP connections held at once, in total and from one client address (an IPv6 client
  /// by its /64); zero is no cap. Past them a new connection is answered (503, 429) and
  /// closed.
  std::size_t max_connections = 0;
  std::size_t max_connections_per_address = 1024;
  /// How long a broadcast's writes wait for more frames to the same connections before
  /// they go (see write_batch); zero writes at once.
  std::chrono::microseconds write_delay{0};
  /// permessage-deflate (RFC 7692) for clients that offer it; messages of at least the
  /// threshold are sent compressed when that makes them smaller.
  bool per_message_deflate = false;
  std::size_t per_message_deflate_threshold = 1024;
  /// Content coding of `compressible` responses of at least the threshold.
  bool http_compression = true;
  std::size_t http_compression_threshold = 1024;
  /// Peers whose X-Forwarded-For is believed (addresses or CIDR ranges, see
  /// trusted_proxies): a request from one of them has the client address the header
  /// names. Empty: the peer's address, always.
  std::vector<std::string> trusted_proxies;
  /// PEM certificate chain and private key: with both, the port serves HTTPS and WSS
  /// only (TLS 1.2+); reloaded on SIGHUP.
  std::string tls_cert;
  std::string tls_key;
};

/// Listener plus I/O threads. start() binds (port 0 picks one) and runs the threads.
class server {
public:
  server(server_options opts, std::shared_ptr<handler> h);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts the I/O threads; returns the bound port.
  std::uint16_t start();
  /// Stops accepting new connections; existing sessions go on.
  void stop_accepting();
  /// Stops the I/O threads and joins them.
  void stop();
  /// Runs `fn` once SIGINT or SIGTERM arrives (on an I/O thread).
  void on_signal(std::function<void(int)> fn);
  /// Loads tls_cert and tls_key again for new connections (what SIGHUP does); an empty
  /// answer when that worked or TLS is off, else why it failed (the old ones stay).
  std::string reload_tls();
  bool tls() const;
  /// The io_context the I/O threads run (sio::io_scheduler runs actors on it too).
  boost::asio::io_context& io_context();

private:
  void wait_hangup();

  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Parses "a=b&c=d" with percent-decoding ('+' as space, as browsers send it).
header_list parse_query(std::string_view query);

} // namespace sio::http

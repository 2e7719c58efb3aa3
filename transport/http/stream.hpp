// A connection's byte stream: plain TCP, or TLS over it (HTTPS and WSS on the listening
// port). Internal to transport/http; the sessions read and write through it, and Beast
// reads requests from it (it is an Asio AsyncStream).
//
// The plain path stays what it was (a socket); TLS differs where OpenSSL needs it to: the
// handshake first, reads through the TLS layer (bytes may wait decrypted inside it, so a
// readability wait on the socket is not enough), and no close_notify at the end (the
// socket just closes: HTTP and WebSocket frame their own ends).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace sio::http {

class stream {
public:
  using tcp = boost::asio::ip::tcp;
  using tls_stream = boost::asio::ssl::stream<tcp::socket>;
  using executor_type = tcp::socket::executor_type;

  /// Plain TCP.
  explicit stream(tcp::socket socket) : plain_(std::move(socket)) {}
  /// TLS over `socket` with `context` (kept alive by the stream: a reload does not pull it
  /// from under open connections). The handshake is the caller's first step.
  stream(tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> context)
      : context_(std::move(context)), tls_(std::in_place, std::move(socket), *context_) {}

  stream(stream&&) = default;
  stream& operator=(stream&&) = delete;

  bool is_tls() const { return tls_.has_value(); }
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  tls_stream& tls() { return *tls_; }
  executor_type get_executor() { return socket().get_executor(); }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    else
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    else
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
  }

private:
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::optional<tcp::socket> plain_;
  std::optional<tls_stream> tls_;
};

} // namespace sio::http

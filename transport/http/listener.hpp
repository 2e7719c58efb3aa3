// The accept loop: admits each connection under the connection caps and starts its HTTP
// session; refuses the rest with an answer (429 over max-connections-per-address, 503
// over max-connections or at the file-descriptor limit) and a rate-limited log line.
// Internal to transport/http (the server owns one).
#pragma once

#include "transport/http/connection_limits.hpp"
#include "transport/http/refusal_log.hpp"
#include "transport/http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/http/tls_context.hpp"
#include "transport/http/trusted_proxies.hpp"

#include <atomic>
#include <memory>

namespace sio::http {

class listener {
public:
  using tcp = boost::asio::ip::tcp;

  listener(boost::asio::io_context& ioc, const server_options& opts, std::shared_ptr<handler> h);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  /// Binds and listens (throws on failure); returns the bound port.
  std::uint16_t listen();
  /// Starts accepting.
  void start();
  /// Stops accepting and closes the listening socket (from any thread).
  void stop();
  /// Stops at once; for the server's own shutdown, with the I/O threads stopped.
  void halt() { accepting_ = false; }
  bool tls() const { return tls_ != nullptr; }
  /// See server::reload_tls.
  std::string reload_tls();

private:
  void do_accept();
  void on_accept(tcp::socket socket);
  /// Answers `socket` with `answer` and closes it; counted and logged under `cause`.
  void refuse(tcp::socket socket, const std::string& answer, const std::string& cause, const std::string& address);
  /// Out of file descriptors: answers the waiting connections 503 with the spare
  /// descriptor, then accepting resumes after a pause.
  void at_fd_limit(const std::string& cause);
  void count_refusals(const std::string& cause, std::size_t n, const std::string& address);
  /// Logs the lines due each interval while some cause waits for one.
  void arm_log_timer();

  boost::asio::io_context& ioc_;
  const server_options& opts_;
  std::shared_ptr<handler> handler_;
  tcp::acceptor acceptor_;
  std::shared_ptr<connection_limits> limits_;
  std::shared_ptr<const trusted_proxies> proxies_;
  std::unique_ptr<tls_context> tls_; // null: plain TCP
  refusal_log log_;
  boost::asio::steady_timer log_timer_;
  bool log_timer_running_ = false;
  boost::asio::steady_timer retry_timer_;
  std::atomic<bool> accepting_{false};
  /// Closed to accept one connection at the descriptor limit, so that it gets an answer
  /// instead of waiting in the backlog; reopened right after.
  int spare_fd_ = -1;
  /// Refused connections whose answer is still being read (bounded, see refuse()).
  std::shared_ptr<std::atomic<std::size_t>> lingering_;
};

} // namespace sio::http

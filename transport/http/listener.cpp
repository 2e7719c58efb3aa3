#include "transport/http/listener.hpp"

#include "transport/http/http_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sio::http {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {

constexpr std::chrono::milliseconds accept_retry{100};
constexpr std::chrono::seconds refusal_log_interval{10};
/// How long a refused connection stays open so that the client reads the answer before
/// the close (closing with its request unread would reset the connection, answer and all).
constexpr std::chrono::seconds linger_time{1};
/// At most this many refused connections linger; past it they close at once.
constexpr std::size_t max_lingering = 64;

std::string refusal_answer(int status, const char* reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason
         + "\r\nServer: chat-server\r\nConnection: close\r\nRetry-After: 10\r\nContent-Type: text/plain; "
           "charset=UTF-8\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body;
}

int open_spare() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// A refused connection after its answer: reads and discards what the client sends until
// it closes, or linger_time passes.
struct lingering_close : std::enable_shared_from_this<lingering_close> {
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  std::shared_ptr<std::atomic<std::size_t>> count;
  std::array<char, 512> sink;

  lingering_close(asio::ip::tcp::socket s, std::shared_ptr<std::atomic<std::size_t>> c)
      : socket(std::move(s)), timer(socket.get_executor()), count(std::move(c)) {
    ++*count;
  }
  ~lingering_close() { --*count; }

  void start() {
    timer.expires_after(linger_time);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->socket.close(ec);
    });
    read();
  }
  void read() {
    socket.async_read_some(asio::buffer(sink), [self = shared_from_this()](error_code ec, std::size_t) {
      if (!ec)
        return self->read();
      self->timer.cancel();
      self->socket.close(ec);
    });
  }
};

} // namespace

listener::listener(asio::io_context& ioc, const server_options& opts, std::shared_ptr<handler> h)
    : ioc_(ioc), opts_(opts), handler_(std::move(h)), acceptor_(asio::make_strand(ioc)),
      limits_(std::make_shared<connection_limits>(opts.max_connections, opts.max_connections_per_address)),
      proxies_(std::make_shared<const trusted_proxies>(opts.trusted_proxies)),
      tls_(opts.tls_cert.empty() ? nullptr : std::make_unique<tls_context>(opts.tls_cert, opts.tls_key)),
      log_(refusal_log_interval), log_timer_(acceptor_.get_executor()), retry_timer_(acceptor_.get_executor()),
      spare_fd_(open_spare()), lingering_(std::make_shared<std::atomic<std::size_t>>(0)) {}

listener::~listener() {
  if (spare_fd_ >= 0)
    ::close(spare_fd_);
}

std::uint16_t listener::listen() {
  tcp::endpoint ep{asio::ip::make_address(opts_.host), opts_.port};
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  acceptor_.non_blocking(true); // at the descriptor limit, at_fd_limit() accepts without waiting
  return acceptor_.local_endpoint().port();
}

void listener::start() {
  accepting_ = true;
  do_accept();
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [this] {
    accepting_ = false;
    error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    log_timer_.cancel();
  });
}

void listener::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
    if (!accepting_.load())
      return;
    if (!ec) {
      on_accept(std::move(socket));
    } else if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system) {
      at_fd_limit(ec == asio::error::no_descriptors ? "too many open files" : "too many open files in the system");
      return;
    } else if (ec != asio::error::operation_aborted) {
      // No buffer space or similar: retry shortly instead of spinning.
      spdlog::debug("accept: {}", ec.message());
      retry_timer_.expires_after(accept_retry);
      retry_timer_.async_wait([this](error_code) { do_accept(); });
      return;
    }
    do_accept();
  });
}

void listener::on_accept(tcp::socket socket) {
  error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec)
    return; // gone already
  auto address = ep.address().to_string();
  auto admitted = limits_->admit(address);
  switch (admitted.refused) {
  case connection_limits::refusal::per_address:
    return refuse(std::move(socket), refusal_answer(429, "Too Many Requests", "Too many connections from your address"),
                  "over max-connections-per-address (" + std::to_string(opts_.max_connections_per_address) + ")",
                  address);
  case connection_limits::refusal::total:
    return refuse(std::move(socket), refusal_answer(503, "Service Unavailable", "Too many connections"),
                  "over max-connections (" + std::to_string(opts_.max_connections) + ")", address);
  case connection_limits::refusal::none:
    break;
  }
  socket.set_option(tcp::no_delay(true), ec);
  auto s = tls_ ? stream(std::move(socket), tls_->current()) : stream(std::move(socket));
  start_http_session(std::move(s), opts_, proxies_, handler_, ioc_, std::move(admitted.slot));
}

void listener::refuse(tcp::socket socket, const std::string& answer, const std::string& cause,
                      const std::string& address) {
  count_refusals(cause, 1, address);
  error_code ec;
  socket.non_blocking(true, ec);
  // On the TLS port a plain-text answer would read as a protocol error: just close.
  if (!tls_)
    socket.write_some(asio::buffer(answer), ec); // a fresh socket's send buffer takes it whole
  socket.shutdown(tcp::socket::shutdown_send, ec);
  if (lingering_->load() < max_lingering)
    std::make_shared<lingering_close>(std::move(socket), lingering_)->start();
}

void listener::at_fd_limit(const std::string& cause) {
  // Each waiting connection: free the spare descriptor, accept with it, answer, close,
  // take the spare back. Without the spare (someone took the descriptor meanwhile) the
  // connections wait in the backlog until descriptors are free again.
  static const std::string answer = refusal_answer(503, "Service Unavailable", "Server busy");
  std::size_t refused = 0;
  for (int i = 0; i < 256 && spare_fd_ >= 0; ++i) {
    ::close(spare_fd_);
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] auto sent = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      ++refused;
    }
    spare_fd_ = open_spare();
    if (fd < 0)
      break; // none waiting any more
  }
  if (spare_fd_ < 0)
    spare_fd_ = open_spare();
  // accept() fails for want of a descriptor whether or not a client waits: only the
  // connections answered count.
  if (refused > 0)
    count_refusals(cause, refused, {});
  else if (spare_fd_ < 0)
    count_refusals(cause + " (no spare descriptor: clients wait in the backlog)", 1, {});
  retry_timer_.expires_after(accept_retry);
  retry_timer_.async_wait([this](error_code) {
    if (accepting_.load())
      do_accept();
  });
}

void listener::count_refusals(const std::string& cause, std::size_t n, const std::string& address) {
  auto line = log_.refused(cause, refusal_log::clock::now(), n, address);
  if (!line.empty())
    spdlog::warn("{}", line);
  arm_log_timer();
}

void listener::arm_log_timer() {
  if (log_timer_running_ || !log_.waiting())
    return;
  log_timer_running_ = true;
  log_timer_.expires_after(log_.interval());
  log_timer_.async_wait([this](error_code ec) {
    log_timer_running_ = false;
    if (ec)
      return;
    for (auto& line : log_.due(refusal_log::clock::now()))
      spdlog::warn("{}", line);
    arm_log_timer();
  });
}

std::string listener::reload_tls() {
  if (!tls_)
    return {};
  try {
    tls_->reload();
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

} // namespace sio::http

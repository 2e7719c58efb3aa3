// The front end's outer shell: the request and response helpers, and the server (the
// I/O threads, the signals, the listener). The sessions are in http_session.cpp and
// ws_session.cpp, the accept loop in listener.cpp, write batches in write_batch.cpp.
#include "transport/http/server.hpp"

#include "transport/http/listener.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace sio::http {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

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

// -- the server ------------------------------------------------------------------

struct server::impl {
  server_options opts;
  // With one I/O thread, Asio queues what that thread posts to itself without locking.
  asio::io_context ioc{static_cast<int>(std::max<std::size_t>(1, opts.io_threads))};
  // The I/O threads run until stop(), also once no connection is left: actors run on them
  // (io_scheduler) until main() detaches it, and a job posted to an io_context whose
  // threads returned would wait there (detach() waits out its bound for it).
  asio::executor_work_guard<asio::io_context::executor_type> keep_running{ioc.get_executor()};
  listener accept_loop;
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  asio::signal_set hangup{ioc, SIGHUP};
  std::vector<std::thread> threads;
  std::function<void(int)> signal_fn;
  std::mutex stop_mutex;
  bool stopped = false;

  impl(server_options o, std::shared_ptr<handler> h) : opts(std::move(o)), accept_loop(ioc, opts, std::move(h)) {}
};

server::server(server_options opts, std::shared_ptr<handler> h)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(h))) {}

server::~server() {
  stop();
}

std::uint16_t server::start() {
  auto& i = *impl_;
  auto port = i.accept_loop.listen();
  i.accept_loop.start();
  i.signals.async_wait([&i](error_code ec, int sig) {
    if (!ec && i.signal_fn)
      i.signal_fn(sig);
  });
  wait_hangup();
  auto n = std::max<std::size_t>(1, i.opts.io_threads);
  for (std::size_t k = 0; k < n; ++k)
    i.threads.emplace_back([&i] { i.ioc.run(); });
  return port;
}

void server::stop_accepting() {
  impl_->accept_loop.stop();
}

void server::stop() {
  std::lock_guard<std::mutex> guard(impl_->stop_mutex);
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  impl_->accept_loop.halt();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
}

void server::on_signal(std::function<void(int)> fn) {
  impl_->signal_fn = std::move(fn);
}

void server::wait_hangup() {
  // SIGHUP reloads the certificate (as nginx does), any number of times.
  impl_->hangup.async_wait([this](error_code ec, int) {
    if (ec)
      return;
    if (!tls()) {
      spdlog::info("SIGHUP: no tls-cert to reload");
    } else if (auto why = reload_tls(); why.empty()) {
      spdlog::info("SIGHUP: tls-cert and tls-key reloaded; new connections use them");
    } else {
      spdlog::error("SIGHUP: {}; the previous certificate stays in use", why);
    }
    wait_hangup();
  });
}

std::string server::reload_tls() {
  return impl_->accept_loop.reload_tls();
}

bool server::tls() const {
  return impl_->accept_loop.tls();
}

asio::io_context& server::io_context() {
  return impl_->ioc;
}

} // namespace sio::http

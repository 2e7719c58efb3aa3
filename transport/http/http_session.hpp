// The HTTP session of an accepted connection: one request at a time, answered through a
// `reply`; a WebSocket upgrade hands the socket to a ws_session. Internal to
// transport/http (the listener starts it); Beast stays in http_session.cpp.
#pragma once

#include "transport/http/connection_limits.hpp"
#include "transport/http/server.hpp"
#include "transport/http/stream.hpp"
#include "transport/http/trusted_proxies.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace sio::http {

/// Serves `s` (TLS: from its handshake on), admitted under `slot`, until the connection
/// ends. A request from one of `proxies` has the client address its X-Forwarded-For names.
void start_http_session(stream&& s, const server_options& opts,
                        std::shared_ptr<const trusted_proxies> proxies, std::shared_ptr<handler> h,
                        boost::asio::io_context& ioc, connection_slot slot);

} // namespace sio::http

#include "transport/http/request.hpp"

#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>

namespace sio::http {

request to_request(boost::beast::http::request<boost::beast::http::string_body>& msg) {
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
  req.websocket_upgrade = boost::beast::websocket::is_upgrade(msg);
  req.body = std::move(msg.body());
  return req;
}

} // namespace sio::http

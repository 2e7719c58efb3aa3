#include "transport/http/content_coding.hpp"

#include "transport/http/field_syntax.hpp"
#include "transport/http/zlib_stream.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include <cstdlib>

namespace sio::http::content_coding {

namespace {

/// The q of one Accept-Encoding element's parameters (["q=0.5"]), 1 without one; a
/// malformed q makes the element unacceptable.
double quality(const std::vector<std::string_view>& element) {
  for (std::size_t i = 1; i < element.size(); ++i) {
    auto p = element[i];
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
      continue;
    auto v = std::string(trim_ows(p.substr(2)));
    if (v.empty() || v.size() > 5)
      return 0;
    char* end = nullptr;
    double q = std::strtod(v.c_str(), &end);
    if (end != v.c_str() + v.size() || q < 0 || q > 1)
      return 0;
    return q;
  }
  return 1;
}

} // namespace

coding choose(std::string_view accept_encoding) {
  double gzip = -1, deflate = -1, any = -1;
  for (auto list_element : split_ows(accept_encoding, ',')) {
    auto element = split_ows(list_element, ';');
    auto token = element.front();
    double q = quality(element);
    if (boost::algorithm::iequals(token, "gzip") || boost::algorithm::iequals(token, "x-gzip"))
      gzip = q;
    else if (boost::algorithm::iequals(token, "deflate"))
      deflate = q;
    else if (token == "*")
      any = q;
  }
  if (gzip < 0)
    gzip = any;
  if (deflate < 0)
    deflate = any;
  if (gzip > 0 && gzip >= deflate)
    return coding::gzip;
  if (deflate > 0)
    return coding::deflate;
  return coding::identity;
}

std::string_view name(coding c) {
  switch (c) {
  case coding::gzip:
    return "gzip";
  case coding::deflate:
    return "deflate";
  case coding::identity:
    break;
  }
  return "identity";
}

std::string encode(std::string_view body, coding c) {
  if (c == coding::identity)
    return std::string(body);
  return zlib::deflate(body, c == coding::gzip ? zlib::format::gzip : zlib::format::zlib, false);
}

} // namespace sio::http::content_coding

// What a client controls in the new header and payload parsers: a permessage-deflate
// message (raw deflate, inflated within a limit), a Sec-WebSocket-Extensions offer, an
// Accept-Encoding value, an X-Forwarded-For list. The first input byte picks the parser.
#include "tests/fuzz/check.hpp"
#include "transport/http/content_coding.hpp"
#include "transport/http/permessage_deflate.hpp"
#include "transport/http/trusted_proxies.hpp"
#include "transport/http/zlib_stream.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zs = sio::http::zlib;
namespace pmd = sio::http::permessage_deflate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
  case 0: {
    // Inflated within 64 KiB; what inflates re-compresses and inflates to itself.
    constexpr std::size_t limit = 64 * 1024;
    std::string out;
    auto status = zs::inflate_raw(in, pmd::tail, limit, out);
    FUZZ_CHECK(out.size() <= limit + 1);
    if (status == zs::inflate_status::ok) {
      auto again = zs::deflate(out, zs::format::raw, true);
      std::string back;
      FUZZ_CHECK(zs::inflate_raw(again, {}, limit, back) == zs::inflate_status::ok && back == out);
    }
    break;
  }
  case 1:
    // An accepted offer's answer is itself an acceptable offer with the same window.
    if (auto a = pmd::accept(in)) {
      FUZZ_CHECK(a->window_bits >= 9 && a->window_bits <= 15);
      auto again = pmd::accept(a->answer());
      FUZZ_CHECK(again && again->window_bits == a->window_bits);
    }
    break;
  case 2: {
    auto c = sio::http::content_coding::choose(in);
    FUZZ_CHECK(c == sio::http::content_coding::coding::identity || !sio::http::content_coding::name(c).empty());
    break;
  }
  case 3: {
    // Behind a proxy on 127.0.0.1 the client address is always an address.
    static const sio::http::trusted_proxies proxies({"127.0.0.1", "10.0.0.0/8"});
    auto client = proxies.client_address(boost::asio::ip::make_address("127.0.0.1"), {in});
    boost::system::error_code ec;
    boost::asio::ip::make_address(client, ec);
    FUZZ_CHECK(!ec);
    break;
  }
  }
  return 0;
}

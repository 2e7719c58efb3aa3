// zlib's deflate and inflate, one message at a time, for the two compressions the front
// end speaks (permessage-deflate over WebSocket, gzip/deflate content coding over HTTP).
// Internal to transport/http; no Asio, no Beast.
//
// Each thread keeps one stream per format and is reset after every message, so nothing
// is kept per connection: a compressed message never refers back to an earlier one (we
// negotiate no context takeover both ways), and an idle client costs no zlib memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sio::http::zlib {

enum class format {
  raw,  // RFC 1951 (permessage-deflate)
  zlib, // RFC 1950 (HTTP's "deflate", what Node's zlib.deflateSync makes)
  gzip, // RFC 1952
};

/// `in` compressed in one go. `sync_flush` ends it with an empty stored block (the form
/// permessage-deflate strips, RFC 7692 §7.2.1) instead of a final block. `window_bits`
/// 9..15 (raw deflate cannot make 8).
std::string deflate(std::string_view in, format f, bool sync_flush, int window_bits = 15);

enum class inflate_status { ok, too_big, bad_data };

/// Inflates raw deflate data `in` followed by `tail` into `out`, at most `max_out`
/// bytes: past it `too_big` (and `out` holds what was made), so a small bomb costs at
/// most `max_out` bytes and the time to make them.
inflate_status inflate_raw(std::string_view in, std::string_view tail, std::size_t max_out, std::string& out);

} // namespace sio::http::zlib

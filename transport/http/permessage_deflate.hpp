// permessage-deflate (RFC 7692), the server side: which of a client's offers we accept
// and what the 101 answers. Pure; the session compresses and inflates with zlib_stream.
//
// We answer every accepted offer with no context takeover both ways: each message is
// compressed on its own, so a broadcast is compressed once for all its recipients (the
// bytes are the same for every client) and no connection keeps a compressor or an
// inflater between messages (zlib's state is ~300 KiB per stream and window).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sio::http::permessage_deflate {

struct agreement {
  /// The LZ77 window we compress with: 15, or what the client's server_max_window_bits
  /// asked for (9..15; 8 is declined, raw deflate cannot make it).
  int window_bits = 15;
  /// The offer named server_max_window_bits: the answer must name it too (§7.1.2.1).
  bool window_asked = false;
  /// The Sec-WebSocket-Extensions value of the 101.
  std::string answer() const;
};

/// The first acceptable permessage-deflate offer in a Sec-WebSocket-Extensions value
/// (offers are tried in the client's order; one with an unknown or repeated parameter or
/// a bad value is declined, as §7 asks), or none.
std::optional<agreement> accept(std::string_view extensions);

/// The 4 bytes a sync flush ends with: removed from each compressed message on the wire
/// and put back before inflating (§7.2.1, §7.2.2).
constexpr std::string_view tail{"\x00\x00\xff\xff", 4};

} // namespace sio::http::permessage_deflate

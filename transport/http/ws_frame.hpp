// WebSocket framing (RFC 6455 §5) for the server side, as a pure codec.
//
// Written by hand rather than using Beast's websocket::stream because the stream writes
// one message per asynchronous operation: a connection that receives a thousand
// broadcast frames costs a thousand write calls. Framing them ourselves lets a session
// hand everything queued to one gather write (header, payload, header, payload, ...),
// and lets pongs and close frames share that one ordered queue. Beast still parses the
// HTTP upgrade request.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sio::http::wsframe {

enum opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

/// Close status codes used by the server (RFC 6455 §7.4.1).
enum close_code : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  invalid_payload = 1007, // text that is not UTF-8
  too_big = 1009,
};

/// Largest header a server frame needs: 2 bytes plus a 64-bit length.
constexpr std::size_t max_header_size = 10;

/// Writes the header of an unmasked, final server frame carrying `size` payload bytes;
/// returns how many bytes it wrote (2, 4 or 10). `compressed` sets RSV1 (a message
/// compressed by permessage-deflate, RFC 7692 §6).
std::size_t write_header(std::uint8_t op, std::size_t size, unsigned char* out, bool compressed = false);

/// One frame header as read from a client.
struct header {
  bool fin = false;
  std::uint8_t op = 0;
  bool compressed = false; // RSV1: the message this frame starts is deflated (RFC 7692)
  bool masked = false;
  std::array<unsigned char, 4> mask{};
  std::size_t header_size = 0;
  std::uint64_t payload_size = 0;
};

enum class parse_result {
  ok,             // `out` holds a complete header (the payload may still be incomplete)
  incomplete,     // fewer bytes than the header needs
  protocol_error, // reserved bits, unknown opcode, unmasked client frame, bad control frame
  too_big,        // payload over `max_payload`
};

/// Reads a client frame header from `data`. Client frames must be masked; control frames
/// must be final and carry at most 125 bytes. RSV1 is taken only when `deflate` was
/// negotiated and only on a message's first frame (text or binary, RFC 7692 §6.1); RSV2
/// and RSV3 never.
parse_result parse_header(const unsigned char* data, std::size_t size, std::uint64_t max_payload, header& out,
                          bool deflate = false);

/// XORs `n` payload bytes with the mask; `offset` is the position of `payload[0]` in the
/// frame's payload (for payloads unmasked in pieces).
void unmask(unsigned char* payload, std::size_t n, const std::array<unsigned char, 4>& mask, std::size_t offset = 0);

/// The payload of a close frame: the status code, big-endian, then the reason (cut to fit
/// a control frame, between code points).
std::string close_payload(std::uint16_t code, std::string_view reason);

/// Whether a peer may send `code` in a close frame (RFC 6455 §7.4): 1000-1003 and
/// 1007-1014 (the IANA registry), 3000-4999 (libraries, applications). 1004 and 1015 are
/// reserved; 1005 and 1006 mean "no code" and must never be on the wire.
bool valid_close_code(std::uint16_t code);

/// The code to answer a client's close frame with: its own code when valid (or 1000 for an
/// empty payload), protocol_error for an invalid code or a 1-byte payload, invalid_payload
/// for a reason that is not UTF-8.
std::uint16_t close_answer(std::string_view payload);

/// How far `text` is UTF-8 (RFC 3629: no overlong forms, surrogates or code points above
/// U+10FFFF). `complete` bytes are whole code points; when `valid`, what follows them (at
/// most 3 bytes) begins a code point that more bytes may complete, so a message received
/// in fragments is checked once, a fragment at a time.
struct utf8_check {
  bool valid = true;
  std::size_t complete = 0;
};
utf8_check check_utf8(std::string_view text);

/// Whether `text` is UTF-8 throughout (a cut code point at its end is not).
bool is_utf8(std::string_view text);

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (base64 of SHA-1 of the key and
/// the RFC's GUID).
std::string accept_key(std::string_view client_key);

} // namespace sio::http::wsframe

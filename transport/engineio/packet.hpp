// Engine.IO v4 codec: packets, the WebSocket framing, the polling payload and the
// handshake. Pure functions; no I/O, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sio::engineio {

enum class packet_type : std::uint8_t {
  open = 0,
  close = 1,
  ping = 2,
  pong = 3,
  message = 4,
  upgrade = 5,
  noop = 6,
};

/// One Engine.IO packet. `binary` is only meaningful for `message`: its `data` holds raw
/// bytes that travel as a binary WebSocket frame, or as "b" + base64 in a polling payload.
struct packet {
  packet_type type = packet_type::message;
  bool binary = false;
  std::string data;

  friend bool operator==(const packet& a, const packet& b) {
    return a.type == b.type && a.binary == b.binary && a.data == b.data;
  }
};

/// Text form of a packet: the type digit followed by the data. Not for binary packets.
std::string encode_text(const packet& p);

/// Shorthands for the text of packets without data ("1", "6") and of messages ("4" + text).
std::string encode_text(packet_type type, std::string_view data = {});
inline std::string encode_message(std::string_view text) {
  return encode_text(packet_type::message, text);
}

/// Decodes one WebSocket frame. A binary frame is a binary `message`; a text frame is a
/// type digit plus data. Returns nothing for an empty frame or an unknown type.
std::optional<packet> decode_frame(bool binary_frame, std::string_view frame);

/// The record separator between packets of a v4 polling payload.
inline constexpr char record_separator = '\x1e';

/// Polling payload: packets joined by \x1e; binary packets as "b" + base64.
std::string encode_payload(const std::vector<packet>& packets);
void append_to_payload(std::string& payload, const packet& p);
/// The same for a packet in its WebSocket form: a text frame (the packet's text) as is,
/// a binary frame's bytes as "b" + base64.
void append_frame_to_payload(std::string& payload, bool binary, std::string_view frame);

/// Decodes a polling payload; nothing when any record is invalid (bad type, bad base64,
/// empty record).
std::optional<std::vector<packet>> decode_payload(std::string_view body);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

/// The open packet's data: exactly sid, upgrades, pingInterval, pingTimeout, maxPayload.
struct handshake {
  std::string sid;
  std::vector<std::string> upgrades;
  std::uint32_t ping_interval_ms = 25000;
  std::uint32_t ping_timeout_ms = 20000;
  std::uint64_t max_payload = 1000000;
  /// Engine.IO v3's open packet has no maxPayload.
  bool v3 = false;
};
std::string encode_handshake(const handshake& h);

// -- Engine.IO v3 (Socket.IO v2 clients such as ElephantIO Version2X) ------------------

/// A v3 WebSocket binary frame carries the packet type as its first byte.
std::string encode_binary_frame_v3(std::string_view data);

/// v3 polling payload as text: "<length>:<packet>" records, the length counted in UTF-16
/// code units as JavaScript does; binary packets as "b4" + base64.
std::string encode_payload_v3_text(const std::vector<packet>& packets);
/// v3 polling payload as bytes (clients that take binary): per packet a 0 (text) or 1
/// (binary) byte, the length's decimal digits as byte values, 255, then the packet.
std::string encode_payload_v3_binary(const std::vector<packet>& packets);
/// A v3 WebSocket binary frame: the message's bytes after its type byte; nothing when the
/// first byte is not a message's (4).
std::optional<packet> decode_binary_frame_v3(std::string_view frame);
/// Decodes a v3 polling body: the binary form when `binary_body`, else the text form.
/// Text packets must be UTF-8 (lengths are counted in UTF-16 units), binary ones anything.
std::optional<std::vector<packet>> decode_payload_v3(std::string_view body, bool binary_body);

/// The reference server's request errors (engine.io `Server.errors`).
enum class error_code : int {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};
/// "Transport unknown", "Session ID unknown", ...
std::string_view error_message(error_code code);
/// 403 for forbidden, 400 otherwise.
int error_status(error_code code);
/// {"code":N,"message":"..."}
std::string error_body(error_code code);
/// {"code":N,"message":message}: a refusal with its own message, as engine.io's
/// `allowRequest` gives one (its errorContext.message).
std::string error_body(error_code code, std::string_view message);

} // namespace sio::engineio

// Socket.IO v5 codec: packets with namespaces, ack ids, JSON data (Boost.JSON) and binary
// attachments. Pure functions plus a decoder that holds a packet's pending attachments.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sio::socketio {

enum class packet_type : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

/// One Socket.IO packet. Binary values inside `data` are placeholders
/// {"_placeholder":true,"num":N} that index `attachments`; the encoder and decoder keep
/// them in that form, so the application layer sees the wire representation.
struct packet {
  packet_type type = packet_type::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  /// Absent data is a null value with has_data == false.
  boost::json::value data;
  bool has_data = false;
  std::vector<std::string> attachments;
};

/// Encodes the text part: <type>[<n>-][<nsp>,][<id>][<json>]. The type is promoted to
/// binary_event / binary_ack when there are attachments; the attachments themselves are
/// sent as the following binary Engine.IO messages, in order.
std::string encode(const packet& p);

/// Shorthands for the server's own packets.
/// With `pid` (connection state recovery), {"sid","pid"}: the session's private id.
std::string encode_connect_ok(std::string_view nsp, std::string_view sid, std::string_view pid = {});
std::string encode_connect_error(std::string_view nsp, std::string_view message,
                                 const boost::json::value* data = nullptr);
std::string encode_disconnect(std::string_view nsp);

// -- Socket.IO v2 (Engine.IO v3 clients: ElephantIO Version2X, socket.io-client 2.x) ------
/// The v2 CONNECT answer: "0" or "0/nsp", without a payload.
std::string encode_connect_ok_v2(std::string_view nsp);
/// The v2 ERROR packet: "4[/nsp,]<json>", the error's data, else its message.
std::string encode_connect_error_v2(std::string_view nsp, std::string_view message,
                                    const boost::json::value* data = nullptr);

/// Namespaces are "/" followed by printable, non-space characters other than ','.
bool valid_namespace(std::string_view nsp);

/// Adds a binary attachment and returns its placeholder, for building outgoing data.
boost::json::value add_attachment(std::vector<std::string>& attachments, std::string bytes);
/// True when `v` is a well-formed placeholder object; sets `num`.
bool is_placeholder(const boost::json::value& v, std::uint64_t& num);

/// Event names an application may not emit or handle ("connect", "disconnect", ...):
/// socket.io's emit throws on them, and a client that receives one drops the connection.
bool is_reserved_event(std::string_view name);

/// Like socket.io-parser's isPayloadValid, with the rule that an event name must be a
/// string (not a reserved one). Absent data is fine for CONNECT, DISCONNECT and
/// CONNECT_ERROR only.
bool payload_valid(packet_type type, bool has_data, const boost::json::value& data);

/// Parses JSON that will be re-emitted to clients: nesting bounded, and numbers that
/// JSON cannot carry (1e999 parses to an infinity) replaced by null, as JSON.stringify
/// does in the reference, so nothing re-serialized is unreadable to a client. Nothing on
/// malformed JSON, invalid UTF-8 or lone surrogates.
std::optional<boost::json::value> parse_json(std::string_view text);

struct parse_error {
  std::string reason;
};

/// Stateful decoder: text packets, then the binary attachments that a binary packet
/// announced. Every malformed form yields a parse_error; after an error the decoder is
/// reset.
class decoder {
public:
  struct need_more {};
  using result = std::variant<packet, need_more, parse_error>;

  /// A packet announcing more than `max_attachments` is an error, and so are attachments
  /// whose bytes, held until their packet is complete, pass `max_pending_bytes` (0: none).
  explicit decoder(std::size_t max_attachments = 64, std::size_t max_pending_bytes = 0)
      : max_attachments_(max_attachments), max_pending_bytes_(max_pending_bytes) {}

  result feed_text(std::string_view text);
  result feed_binary(std::string bytes);
  bool awaiting_attachments() const { return pending_.has_value(); }
  /// Bytes of the attachments held for the packet not complete yet.
  std::size_t pending_bytes() const { return pending_bytes_; }
  void reset() {
    pending_.reset();
    expected_ = 0;
    pending_bytes_ = 0;
  }

private:
  std::size_t max_attachments_;
  std::size_t max_pending_bytes_;
  std::size_t expected_ = 0;
  std::size_t pending_bytes_ = 0;
  std::optional<packet> pending_;
};

} // namespace sio::socketio

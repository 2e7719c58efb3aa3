// The Socket.IO packet in MessagePack, as socket.io-msgpack-parser 3 (npm) writes and
// reads it: one binary Engine.IO message per packet, a map {type, nsp, data?, id?} with
// binary values inline (no attachments, no BINARY_EVENT / BINARY_ACK types). On
// msgpack-cxx. Pure.
//
// Inside the server a packet keeps its usual form (JSON data with placeholders plus the
// attachments), so the applications, rooms and the cluster see no difference: decoding
// turns each binary value into an attachment, encoding puts them back in place.
#pragma once

#include "transport/socketio/packet.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace sio::socketio::msgpack_parser {

/// `p` as socket.io-msgpack-parser's encoder writes it (binary_event / binary_ack as
/// event / ack, each placeholder replaced by its attachment's bytes).
std::string encode(const packet& p);

/// One packet from a client: a map with an integer `type` 0..4, a string `nsp` (a valid
/// namespace), `data` as the type asks (the text parser's rules: an event's first element
/// a string, not a reserved name) and an optional non-negative integer `id`. Strings must
/// be UTF-8, map keys strings, floats finite (else null, as JSON), nesting within the
/// JSON parser's bound, at most `max_attachments` binary values; no `_placeholder` keys;
/// no trailing bytes. Every other form is a parse_error. Sizes are checked against the
/// input before anything is allocated (a 5-byte array header cannot ask for 4 G elements).
std::variant<packet, parse_error> decode(std::string_view bytes, std::size_t max_attachments);

/// A packet encoded by our text encoder (`sp::encode`, without the Engine.IO prefix) and
/// its attachments, in MessagePack: how a frame made once for a broadcast goes to the
/// clients of a msgpack server. Nothing when `text` is not a packet we would write.
std::optional<std::string> from_text(std::string_view text, const std::vector<std::string>& attachments);

} // namespace sio::socketio::msgpack_parser

#include "actors/connection.hpp"

#include "actors/ids.hpp"

#include <spdlog/spdlog.h>

namespace sio {

using namespace std::chrono_literals;
namespace eio = engineio;
namespace sp = socketio;

namespace {

std::shared_ptr<const std::string> shared_text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

shared_frame make_frame(std::string text, std::vector<std::string> attachments) {
  return shared_frame{std::make_shared<const wire_packet>(wire_packet{std::move(text), std::move(attachments)})};
}

shared_frame frame_of(const sp::packet& p) {
  return make_frame("4" + sp::encode(p), p.attachments);
}

template <class F> void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("{} handler threw: {}", what, e.what());
  } catch (...) {
    spdlog::error("{} handler threw", what);
  }
}

} // namespace

// -- start ---------------------------------------------------------------------------

caf::behavior connection_state::start(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry,
                                      std::string sid, std::shared_ptr<const handshake_info> hs) {
  core_ = std::move(core);
  entry_ = std::move(entry);
  sid_ = std::move(sid);
  handshake_ = hs ? std::move(hs) : std::make_shared<const handshake_info>();
  entry_->actor = caf::actor_cast<caf::actor>(self_);
  // Registered before anything reaches the client, so its next request finds the session.
  core_->add_session(sid_, entry_);
  // Whatever ends this actor, the session leaves the registry.
  self_->attach_functor([core = core_, sid = sid_] { core->remove_session(sid); });
  schedule_ping();
  if (!entry_->raw)
    self_->delayed_send(self_, core_->opts.connect_timeout, connect_timeout_atom::value);
  self_->set_down_handler([](caf::down_msg&) {});
  return {
      [=](ws_in& in) { on_ws_in(in); },
      [=](ws_gone& g) { on_ws_gone(g); },
      [=](ws_attach& a) { on_ws_attach(a); },
      [=](poll_get& g) { on_poll_get(std::move(g.reply)); },
      [=](poll_post& p) { on_poll_post(std::move(p.body), p.binary_body, std::move(p.reply)); },
      [=](deliver& d) {
        auto* s = find_socket(d.key);
        if (s && s->connected)
          send_frame(d.frame, d.is_volatile);
      },
      [=](close_request& c) { close_session(c.reason); },
      [=](overcap_atom) {
        if (closed_ || closing_)
          return;
        spdlog::warn("session {}: write queue over {} bytes, disconnecting", sid_, core_->opts.max_queue_bytes);
        abort_transport_ = true;
        end_session("transport error");
      },
      [=](flush_atom) {
        flush_scheduled_ = false;
        flush();
      },
      [=](ping_atom, std::uint64_t generation) {
        if (generation != ping_generation_ || closed_)
          return;
        send_control({eio::packet_type::ping, false, {}});
        awaiting_pong_ = true;
        self_->delayed_send(self_, core_->opts.ping_timeout, ping_timeout_atom::value, generation);
      },
      [=](ping_timeout_atom, std::uint64_t generation) {
        if (generation == ping_generation_ && awaiting_pong_)
          end_session("ping timeout");
      },
      [=](connect_timeout_atom) {
        if (!ever_connected_ && !closed_) {
          spdlog::debug("session {}: no CONNECT within connectTimeout", sid_);
          close_session("connect timeout");
        }
      },
      [=](ack_timeout_atom, std::uint64_t key, std::uint64_t id) {
        auto* s = find_socket(key);
        if (!s)
          return;
        auto it = s->acks.find(id);
        if (it == s->acks.end())
          return;
        auto cb = std::move(it->second);
        s->acks.erase(it);
        socket handle(this, key);
        guarded("ack timeout", [&] { cb(handle, std::nullopt); });
      },
      [=](upgrade_timeout_atom, std::uint64_t channel) {
        if (probe_ && probe_channel_ == channel) {
          probe_->close(1000, "upgrade timeout");
          probe_.reset();
        }
      },
      [=](close_timeout_atom) {
        if (awaiting_close_get_)
          finish();
      },
  };
}

// -- Engine.IO: handshake and transports ---------------------------------------------------------

namespace {

std::string handshake_text(const server_core& core, const std::string& sid, bool over_polling, bool v3) {
  eio::handshake h;
  h.sid = sid;
  if (over_polling)
    h.upgrades = {"websocket"};
  h.ping_interval_ms = static_cast<std::uint32_t>(core.opts.ping_interval.count());
  h.ping_timeout_ms = static_cast<std::uint32_t>(core.opts.ping_timeout.count());
  h.max_payload = core.opts.max_http_buffer_size;
  h.v3 = v3;
  return eio::encode_text({eio::packet_type::open, false, eio::encode_handshake(h)});
}

http::response payload_response(std::string body) {
  return http::response::text(200, std::move(body), "text/plain; charset=UTF-8");
}

} // namespace

void connection_state::answer_handshake(http::reply_ptr reply) {
  transport_ = transport_kind::polling;
  entry_->transport = static_cast<int>(transport_kind::polling);
  if (v3()) {
    // The open packet, plus the "/" CONNECT that Socket.IO v2 sends by itself.
    outbox_.push_back({false, shared_text(handshake_text(*core_, sid_, true, true))});
    outbox_bytes_ += outbox_.back().data->size();
    if (!entry_->raw)
      connect_default_namespace();
    pending_get_ = std::move(reply);
    return flush();
  }
  reply->send(payload_response(handshake_text(*core_, sid_, true, false)));
}

void connection_state::start_websocket(std::uint64_t channel, http::ws_channel_ptr ws) {
  transport_ = transport_kind::websocket;
  entry_->transport = static_cast<int>(transport_kind::websocket);
  ws_ = std::move(ws);
  ws_channel_ = channel;
  send_control({eio::packet_type::open, false, handshake_text(*core_, sid_, false, v3()).substr(1)});
  if (!v3())
    sink_->publish(ws_);
  if (v3() && !entry_->raw)
    connect_default_namespace();
}

void connection_state::on_poll_get(http::reply_ptr reply) {
  if (awaiting_close_get_) {
    pending_get_ = std::move(reply);
    flush();
    return finish();
  }
  if (closed_ || transport_ != transport_kind::polling) {
    reply->send(http::response::json(400, eio::error_body(eio::error_code::bad_request)));
    return;
  }
  if (pending_get_) {
    // A second concurrent GET: the reference closes the session ("overlap from client").
    reply->send(http::response::json(400, eio::error_body(eio::error_code::bad_request)));
    return end_session("transport error");
  }
  pending_get_ = std::move(reply);
  // During an upgrade the client waits for its GET to return before it switches: a GET
  // that arrives after the probe's noop went out (the client polled again before it saw
  // "3probe") gets a noop too, or it would hang until the next ping. The reference writes
  // a noop to a waiting GET every 100 ms for the same reason.
  if (probe_ && probe_answered_ && outbox_.empty()) {
    outbox_.push_back({false, shared_text("6")});
    outbox_bytes_ += 1;
  }
  if (!outbox_.empty())
    flush();
}

void connection_state::on_poll_post(std::string body, bool binary_body, http::reply_ptr reply) {
  if (closed_ || transport_ != transport_kind::polling) {
    reply->send(http::response::json(400, eio::error_body(eio::error_code::bad_request)));
    return;
  }
  auto packets = v3() ? eio::decode_payload_v3(body, binary_body) : eio::decode_payload(body);
  if (!packets) {
    reply->send(http::response::json(400, eio::error_body(eio::error_code::bad_request)));
    return end_session("parse error");
  }
  reply->send(http::response::text(200, "ok", "text/html"));
  for (auto& p : *packets) {
    if (closed_)
      break;
    on_engine_packet(p);
  }
}

void connection_state::on_ws_attach(ws_attach& a) {
  if (closed_ || transport_ != transport_kind::polling || probe_) {
    a.ws->close(1000, "upgrade refused");
    return;
  }
  probe_ = std::move(a.ws);
  probe_channel_ = a.channel;
  probe_answered_ = false;
  self_->delayed_send(self_, core_->opts.upgrade_timeout, upgrade_timeout_atom::value, a.channel);
}

void connection_state::on_ws_in(ws_in& in) {
  // Flow control: tell the session this message is handled (it may resume reading).
  auto& from = in.channel == ws_channel_ ? ws_ : probe_;
  if (from && (in.channel == ws_channel_ || in.channel == probe_channel_))
    from->consumed(in.data.size());
  if (closed_)
    return;
  // A v3 binary frame starts with its packet type byte.
  std::optional<eio::packet> packet;
  if (in.binary && v3())
    packet = in.data.empty() || in.data[0] != '\x04'
                 ? std::nullopt
                 : std::optional<eio::packet>(eio::packet{eio::packet_type::message, true, in.data.substr(1)});
  else
    packet = eio::decode_frame(in.binary, in.data);
  if (in.channel == ws_channel_ && transport_ == transport_kind::websocket) {
    if (!packet)
      return end_session("parse error");
    return on_engine_packet(*packet);
  }
  if (!probe_ || in.channel != probe_channel_)
    return;
  // The upgrade handshake: 2probe -> 3probe (plus a noop to free the pending GET) -> 5.
  if (packet && packet->type == eio::packet_type::ping && packet->data == "probe") {
    probe_->send({{false, shared_text("3probe")}});
    probe_answered_ = true;
    outbox_.push_back({false, shared_text("6")});
    outbox_bytes_ += 1;
    if (pending_get_)
      flush();
    return;
  }
  // The reference takes an upgrade without a probe too: ElephantIO (Version2X) sends "5"
  // at once.
  if (packet && packet->type == eio::packet_type::upgrade) {
    transport_ = transport_kind::websocket;
    entry_->transport = static_cast<int>(transport_kind::websocket);
    ws_ = std::move(probe_);
    ws_channel_ = probe_channel_;
    probe_channel_ = 0;
    if (pending_get_) {
      pending_get_->send(payload_response(eio::encode_payload({{eio::packet_type::noop, false, {}}})));
      pending_get_.reset();
    }
    // Whatever waited for a GET goes over the WebSocket now, minus upgrade noops.
    std::vector<http::ws_message> rest;
    for (auto& m : outbox_)
      if (m.binary || *m.data != "6")
        rest.push_back(std::move(m));
    outbox_.clear();
    outbox_bytes_ = 0;
    if (!rest.empty())
      enqueue(std::move(rest), false);
    // From now on broadcasts go straight to the WebSocket. A `deliver` already in this
    // actor's mailbox can still arrive after one of those: ordering across the switch is
    // only kept for frames the connection itself sends.
    if (!v3())
      sink_->publish(ws_);
    return;
  }
  probe_->close(1000, "bad upgrade");
  probe_.reset();
}

void connection_state::on_ws_gone(const ws_gone& gone) {
  if (gone.channel == ws_channel_ && transport_ == transport_kind::websocket) {
    ws_.reset();
    return end_session(gone.reason);
  }
  if (gone.channel == probe_channel_ && probe_) {
    probe_.reset();
  }
}

// -- Engine.IO: packets, heartbeat, writes -----------------------------------------------------

void connection_state::on_engine_packet(eio::packet& p) {
  switch (p.type) {
  case eio::packet_type::pong:
    return on_pong();
  case eio::packet_type::message:
    return on_message(p);
  case eio::packet_type::close:
    return close("transport close", close_kind::by_client);
  case eio::packet_type::ping: // the v3 heartbeat (v4 clients do not ping)
    send_control({eio::packet_type::pong, false, p.data});
    if (v3())
      schedule_ping();
    return;
  default:
    return; // open / upgrade / noop carry nothing for an established session
  }
}

void connection_state::schedule_ping() {
  ++ping_generation_;
  if (v3()) {
    // Engine.IO v3: the client pings; silence for pingInterval + pingTimeout closes.
    awaiting_pong_ = true;
    self_->delayed_send(self_, core_->opts.ping_interval + core_->opts.ping_timeout, ping_timeout_atom::value,
                        ping_generation_);
    return;
  }
  awaiting_pong_ = false;
  self_->delayed_send(self_, core_->opts.ping_interval, ping_atom::value, ping_generation_);
}

void connection_state::on_pong() {
  if (awaiting_pong_)
    schedule_ping();
}

void connection_state::send_control(eio::packet p) {
  enqueue({{false, shared_text(eio::encode_text(p))}}, false);
}

void connection_state::send_frame(const shared_frame& frame, bool is_volatile) {
  enqueue(to_ws(frame), is_volatile);
}

bool connection_state::enqueue(std::vector<http::ws_message> msgs, bool is_volatile) {
  if (closed_)
    return false;
  if (transport_ == transport_kind::websocket) {
    if (!ws_)
      return false;
    // A volatile packet is dropped when the client is not keeping up.
    if (is_volatile && ws_->queued_bytes() > 0)
      return false;
    if (v3())
      for (auto& m : msgs)
        if (m.binary)
          m.data = shared_text(eio::encode_binary_frame_v3(*m.data));
    auto result = ws_->send(std::move(msgs));
    if (result == http::ws_channel::send_result::over_cap) {
      spdlog::warn("session {}: write queue over {} bytes, disconnecting", sid_, core_->opts.max_queue_bytes);
      abort_transport_ = true;
      end_session("transport error");
      return false;
    }
    return result == http::ws_channel::send_result::queued;
  }
  if (is_volatile && !pending_get_)
    return false;
  for (auto& m : msgs) {
    outbox_bytes_ += m.data->size();
    outbox_.push_back(std::move(m));
  }
  if (outbox_bytes_ > core_->opts.max_queue_bytes) {
    spdlog::warn("session {}: polling buffer over {} bytes, disconnecting", sid_, core_->opts.max_queue_bytes);
    end_session("transport error");
    return false;
  }
  if (pending_get_)
    schedule_flush();
  return true;
}

void connection_state::schedule_flush() {
  // Like the reference's nextTick: packets emitted while handling one message leave in
  // one payload.
  if (flush_scheduled_)
    return;
  flush_scheduled_ = true;
  self_->send(self_, flush_atom::value);
}

void connection_state::flush() {
  if (!pending_get_ || outbox_.empty())
    return;
  if (v3()) {
    std::vector<eio::packet> packets;
    bool any_binary = false;
    for (auto& m : outbox_) {
      any_binary = any_binary || m.binary;
      if (m.binary)
        packets.push_back({eio::packet_type::message, true, *m.data});
      else if (auto p = eio::decode_frame(false, *m.data))
        packets.push_back(std::move(*p));
    }
    outbox_.clear();
    outbox_bytes_ = 0;
    if (any_binary && !entry_->base64_only)
      pending_get_->send(http::response::text(200, eio::encode_payload_v3_binary(packets), "application/octet-stream"));
    else
      pending_get_->send(payload_response(eio::encode_payload_v3_text(packets)));
    pending_get_.reset();
    return;
  }
  std::string body;
  body.reserve(outbox_bytes_ + outbox_.size() * 2);
  for (auto& m : outbox_) {
    if (!body.empty())
      body += eio::record_separator;
    if (m.binary) {
      body += 'b';
      body += eio::base64_encode(*m.data);
    } else {
      body += *m.data;
    }
  }
  outbox_.clear();
  outbox_bytes_ = 0;
  pending_get_->send(payload_response(std::move(body)));
  pending_get_.reset();
}

// -- Socket.IO ---------------------------------------------------------------------------------

void connection_state::on_message(eio::packet& p) {
  if (entry_->raw) {
    // The raw Engine.IO echo endpoint: every message goes back unchanged.
    if (p.binary)
      enqueue({{true, shared_text(std::move(p.data))}}, false);
    else
      enqueue({{false, shared_text("4" + p.data)}}, false);
    return;
  }
  auto result = p.binary ? decoder_.feed_binary(std::move(p.data)) : decoder_.feed_text(p.data);
  if (auto* err = std::get_if<sp::parse_error>(&result)) {
    spdlog::debug("session {}: parse error: {}", sid_, err->reason);
    return close_session("parse error");
  }
  if (auto* packet = std::get_if<sp::packet>(&result))
    on_socketio_packet(*packet);
}

void connection_state::on_socketio_packet(sp::packet& p) {
  if (p.type == sp::packet_type::connect)
    return on_connect(p);
  auto it = by_nsp_.find(p.nsp);
  if (it == by_nsp_.end()) {
    // As the reference ("invalid state"): a packet for a namespace the client is not
    // connected to closes the connection.
    spdlog::debug("session {}: packet for namespace {} without a socket", sid_, p.nsp);
    return close_session("parse error");
  }
  auto* s = find_socket(it->second);
  switch (p.type) {
  case sp::packet_type::disconnect:
    return remove_socket(s->key, "client namespace disconnect");
  case sp::packet_type::event:
  case sp::packet_type::binary_event:
    return on_event(*s, p);
  case sp::packet_type::ack:
  case sp::packet_type::binary_ack:
    return on_ack(*s, p);
  default:
    return close_session("parse error"); // a client never sends CONNECT_ERROR
  }
}

void connection_state::connect_default_namespace() {
  sp::packet p;
  p.type = sp::packet_type::connect;
  p.nsp = "/";
  on_connect(p);
}

void connection_state::on_connect(sp::packet& p) {
  // Socket.IO v2 puts the namespace's query in its name ("/admin?token=x") and has no
  // auth payload: the query (the connection's and the namespace's) stands in for auth.
  json::object v2_auth;
  if (v3()) {
    for (auto& [k, v] : handshake_->query)
      v2_auth[k] = v;
    if (auto q = p.nsp.find('?'); q != std::string::npos) {
      for (auto& [k, v] : http::parse_query(std::string_view(p.nsp).substr(q + 1)))
        v2_auth[k] = v;
      p.nsp.resize(q);
    }
  }
  auto refuse = [&](std::string_view message, const json::value* data) {
    if (v3()) {
      // v2: ERROR packet whose data is the error's data, else its message.
      json::value body = data ? *data : json::value(message);
      std::string text = p.nsp == "/" ? "44" : "44" + p.nsp + ",";
      enqueue({{false, shared_text(text + json::serialize(body))}}, false);
      return;
    }
    enqueue({{false, shared_text("4" + sp::encode_connect_error(p.nsp, message, data))}}, false);
  };
  if (by_nsp_.count(p.nsp)) {
    // Already connected. A v2 client (ElephantIO sends "40" after the upgrade) gets its
    // CONNECT acknowledged again, as the v2 reference does; v4 ignores it like the reference.
    if (v3())
      enqueue({{false, shared_text(p.nsp == "/" ? "40" : "40" + p.nsp)}}, false);
    return;
  }
  auto ns = core_->find_namespace(p.nsp);
  if (!ns)
    return refuse("Invalid namespace", nullptr);

  auto st = std::make_unique<socket_state>();
  st->key = next_key();
  st->id = make_id();
  st->nsp = p.nsp;
  st->nsp_actor = ns->actor;
  // Sockets share the connection's handshake; one with its own auth gets its own copy.
  st->handshake = handshake_;
  if ((p.has_data && p.data.is_object() && !p.data.as_object().empty()) || (v3() && !v2_auth.empty())) {
    auto own = std::make_shared<handshake_info>(*handshake_);
    own->auth = p.has_data && p.data.is_object() ? p.data.as_object() : std::move(v2_auth);
    st->handshake = std::move(own);
  }
  auto key = st->key;
  sockets_.emplace(key, std::move(st));
  socket handle(this, key);

  for (auto& mw : ns->def->middlewares) {
    std::optional<connect_error> err;
    try {
      err = mw(handle);
    } catch (const std::exception& e) {
      err = connect_error{e.what(), nullptr};
    } catch (...) {
      err = connect_error{"middleware failed", nullptr};
    }
    if (err) {
      sockets_.erase(key);
      const json::value* data = err->data.is_null() ? nullptr : &err->data;
      return refuse(err->message, data);
    }
  }
  auto* s = find_socket(key);
  s->connected = true;
  ever_connected_ = true;
  by_nsp_[s->nsp] = key;
  s->rooms.insert(s->id);
  self_->send(s->nsp_actor, socket_add{key, s->id, caf::actor_cast<caf::actor>(self_), sink_});
  if (v3())
    enqueue({{false, shared_text(s->nsp == "/" ? "40" : "40" + s->nsp)}}, false);
  else
    enqueue({{false, shared_text("4" + sp::encode_connect_ok(s->nsp, s->id))}}, false);
  for (auto& on_connection : ns->def->on_connection)
    if (handle.connected())
      guarded("connection", [&] { on_connection(handle); });
}

void connection_state::on_event(socket_state& s, sp::packet& p) {
  auto& arr = p.data.as_array();
  std::string name(arr[0].as_string());
  auto handler = s.handlers.find(name);
  if (handler == s.handlers.end())
    return;
  message m;
  m.args.reserve(arr.size() - 1);
  for (std::size_t i = 1; i < arr.size(); ++i)
    m.args.push_back(std::move(arr[i]));
  m.attachments = std::move(p.attachments);
  ack_responder ack;
  if (p.id) {
    auto key = s.key;
    auto id = *p.id;
    ack = ack_responder([this, key, id](message reply) {
      auto* sock = find_socket(key);
      if (!sock || !sock->connected)
        return;
      sp::packet out;
      out.type = sp::packet_type::ack;
      out.nsp = sock->nsp;
      out.id = id;
      out.data = std::move(reply.args);
      out.has_data = true;
      out.attachments = std::move(reply.attachments);
      send_frame(frame_of(out), false);
    });
  }
  socket handle(this, s.key);
  auto fn = handler->second; // a handler may replace itself while running
  guarded(name.c_str(), [&] { fn(handle, m, ack); });
}

void connection_state::on_ack(socket_state& s, sp::packet& p) {
  if (!p.id)
    return;
  auto it = s.acks.find(*p.id);
  if (it == s.acks.end())
    return;
  auto cb = std::move(it->second);
  s.acks.erase(it);
  message m;
  m.args = std::move(p.data.as_array());
  m.attachments = std::move(p.attachments);
  socket handle(this, s.key);
  guarded("ack", [&] { cb(handle, std::move(m)); });
}

connection_state::socket_state* connection_state::find_socket(std::uint64_t key) {
  auto it = sockets_.find(key);
  return it == sockets_.end() ? nullptr : it->second.get();
}

void connection_state::emit(socket_state& s, std::string_view event, const message& m) {
  send_frame(make_frame("4" + encode_event(s.nsp, event, m), m.attachments), false);
}

void connection_state::emit_with_ack(socket_state& s, std::string_view event, const message& m,
                                     std::chrono::milliseconds timeout, ack_callback cb) {
  auto id = s.next_ack_id++;
  s.acks.emplace(id, std::move(cb));
  send_frame(make_frame("4" + encode_event(s.nsp, event, m, id), m.attachments), false);
  self_->delayed_send(self_, timeout, ack_timeout_atom::value, s.key, id);
}

socket::join_result connection_state::join(socket_state& s, const std::string& room) {
  if (s.rooms.count(room))
    return socket::join_result::already_in;
  // The own-id room counts too, as in socket.io's `socket.rooms`.
  if (s.rooms.size() >= core_->opts.max_rooms_per_socket)
    return socket::join_result::limit_reached;
  s.rooms.insert(room);
  self_->send(s.nsp_actor, room_join{s.key, room});
  return socket::join_result::joined;
}

void connection_state::leave(socket_state& s, const std::string& room) {
  if (s.rooms.erase(room))
    self_->send(s.nsp_actor, room_leave{s.key, room});
}

void connection_state::server_disconnect(socket_state& s, bool close_connection) {
  if (s.connected)
    enqueue({{false, shared_text("4" + sp::encode_disconnect(s.nsp))}}, false);
  remove_socket(s.key, "server namespace disconnect");
  if (close_connection)
    close_session("server namespace disconnect");
}

void connection_state::remove_socket(std::uint64_t key, const std::string& reason) {
  auto it = sockets_.find(key);
  if (it == sockets_.end())
    return;
  auto& s = *it->second;
  bool was_connected = s.connected;
  s.connected = false;
  if (was_connected) {
    by_nsp_.erase(s.nsp);
    self_->send(s.nsp_actor, socket_remove{key});
    socket handle(this, key);
    auto handlers = s.disconnect_handlers;
    for (auto& h : handlers)
      guarded("disconnect", [&] { h(handle, reason); });
  }
  sockets_.erase(key);
}

void connection_state::close_session(const std::string& reason) {
  close(reason, close_kind::goodbye);
}

void connection_state::end_session(const std::string& reason) {
  close(reason, close_kind::at_once);
}

void connection_state::close(const std::string& reason, close_kind kind) {
  if (closed_ || closing_)
    return;
  closing_ = true; // disconnect handlers below may try to close again
  std::vector<std::uint64_t> keys;
  for (auto& [key, s] : sockets_)
    keys.push_back(key);
  for (auto key : keys)
    remove_socket(key, reason);
  closed_ = true;
  ++ping_generation_; // cancels pending heartbeat timers
  if (probe_) {
    probe_->close(1000, {});
    probe_.reset();
  }
  if (transport_ == transport_kind::websocket) {
    if (ws_ && abort_transport_)
      ws_->abort();
    else if (ws_)
      ws_->close(1000, {});
    ws_.reset();
    return finish();
  }
  // Polling: a waiting GET gets the close packet (the client's own close: a noop, as the
  // reference answers it). Without one, a goodbye waits for the next GET, and a session
  // ended at once is gone: that GET finds no session (400). After the client's close the
  // next GET still gets its noop for a moment: sent before the close, it may reach the
  // session after it, through another I/O thread.
  if (kind != close_kind::goodbye)
    outbox_.clear();
  auto last = kind == close_kind::by_client ? eio::packet_type::noop : eio::packet_type::close;
  outbox_.push_back({false, shared_text(eio::encode_text({last, false, {}}))});
  if (pending_get_) {
    flush();
    return finish();
  }
  if (kind == close_kind::at_once)
    return finish();
  awaiting_close_get_ = true;
  // The client polls again at once; a stopping server, or a client that closed, is waited
  // for only briefly.
  auto wait = core_->shutting_down || kind == close_kind::by_client
                  ? std::min<std::chrono::milliseconds>(core_->opts.ping_interval, 1000ms)
                  : core_->opts.ping_interval;
  self_->delayed_send(self_, wait, close_timeout_atom::value);
}

void connection_state::finish() {
  awaiting_close_get_ = false;
  core_->remove_session(sid_);
  self_->quit();
}

} // namespace sio

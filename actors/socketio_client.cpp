#include "actors/socketio_client.hpp"

#include "actors/ids.hpp"
#include "actors/metrics.hpp"
#include "actors/remote_socket_json.hpp"

#include "transport/socketio/msgpack_parser.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

namespace sio {

namespace sp = socketio;

namespace {

shared_frame make_frame(std::string text, std::vector<std::string> attachments) {
  return shared_frame{std::make_shared<const wire_packet>(wire_packet{std::move(text), std::move(attachments), {}})};
}

shared_frame frame_of(const sp::packet& p) {
  return make_frame(engineio::encode_message(sp::encode(p)), p.attachments);
}

} // namespace

void socketio_client::start(std::shared_ptr<server_core> core, std::shared_ptr<const handshake_info> hs, bool raw,
                            pending_sessions::ticket_ptr pending) {
  core_ = std::move(core);
  handshake_ = hs ? std::move(hs) : std::make_shared<const handshake_info>();
  raw_ = raw;
  pending_ = std::move(pending);
  decoder_ = sp::decoder(core_->opts.max_attachments, core_->opts.max_attachment_bytes);
  if (core_->opts.msgpack_parser && !raw_)
    session_.sink()->use_msgpack();
  attachment_hold_ = std::make_unique<byte_budget::hold>(core_->attachment_bytes);
  if (!raw_)
    self_->delayed_send(self_, core_->opts.connect_timeout, connect_timeout_atom::value);
}

// -- from the session ---------------------------------------------------------------------------

void socketio_client::on_open() {
  if (!revision().connects_main_namespace || raw_)
    return;
  sp::packet p;
  p.type = sp::packet_type::connect;
  p.nsp = "/";
  on_connect(p);
}

void socketio_client::on_message(engineio::packet& p) {
  metrics::global().bytes_in.add(p.data.size());
  sp::decoder::result result;
  if (core_->opts.msgpack_parser && !raw_) {
    // socket.io-msgpack-parser: every packet is one binary message, never text.
    if (!p.binary)
      result = sp::parse_error{"a text message with the msgpack parser"};
    else
      std::visit([&](auto&& r) { result = std::move(r); },
                 sp::msgpack_parser::decode(p.data, core_->opts.max_attachments));
  } else {
    result = p.binary ? feed_attachment(std::move(p.data)) : decoder_.feed_text(p.data);
  }
  if (!decoder_.awaiting_attachments())
    attachment_hold_->reset(); // the packet is complete, or the decoder reset on an error
  if (auto* err = std::get_if<sp::parse_error>(&result)) {
    spdlog::debug("session {}: parse error: {}", session_.sid(), err->reason);
    return close_session("parse error");
  }
  if (auto* packet = std::get_if<sp::packet>(&result))
    on_packet(*packet);
}

sp::decoder::result socketio_client::feed_attachment(std::string bytes) {
  // Only bytes the decoder will hold count: a binary message with no packet waiting for
  // it is an error the decoder answers.
  if (decoder_.awaiting_attachments() && !attachment_hold_->grow(bytes.size())) {
    decoder_.reset();
    spdlog::debug("session {}: attachments of all connections over max-attachment-bytes-total", session_.sid());
    return sp::parse_error{"attachments over the server's budget"};
  }
  return decoder_.feed_binary(std::move(bytes));
}

void socketio_client::on_closing(const std::string& reason) {
  decoder_.reset();
  attachment_hold_->reset();
  std::vector<std::uint64_t> keys;
  keys.reserve(sockets_.size());
  for (auto& [key, s] : sockets_)
    keys.push_back(key);
  for (auto key : keys)
    remove_socket(key, reason);
}

void socketio_client::on_deliver(const deliver& d) {
  auto* s = find_socket(d.key);
  if (s && s->connected)
    send_frame(d.frame, d.is_volatile);
}

void socketio_client::on_connect_timeout() {
  if (!ever_connected_ && !session_.closed()) {
    spdlog::debug("session {}: no CONNECT within connectTimeout", session_.sid());
    close_session("connect timeout");
  }
}

std::optional<remote_socket> socketio_client::describe(std::uint64_t key) {
  auto* s = find_socket(key);
  if (!s || !s->connected)
    return std::nullopt;
  remote_socket out;
  out.id = s->id;
  out.nsp = s->nsp;
  out.rooms.assign(s->rooms.begin(), s->rooms.end());
  if (auto& hs = s->handshake) {
    out.address = hs->address;
    out.headers = hs->headers;
    out.query = hs->query;
    out.auth = json::serialize(hs->auth);
    out.issued_ms = hs->issued_ms;
  }
  out.data = json::serialize(s->data);
  out.transport = session_.transport_name();
  out.client = id_prefix(node_id()) + std::to_string(self_->id());
  if (auto& hs = s->handshake)
    out.url = hs->url;
  return out;
}

void socketio_client::on_upgraded() {
  for (auto& [key, s] : sockets_)
    if (s->connected && core_->activity->admit("upgrade", s->nsp, {}))
      report("upgrade", *s, session_.transport_name(), {}, 0);
}

void socketio_client::report_sent(const socket_state& s, std::string_view event, const message& m) {
  if (!core_->activity->admit("emit", s.nsp, event))
    return;
  auto text = json::serialize(m.args);
  auto bytes = text.size();
  for (auto& a : m.attachments)
    bytes += a.size();
  report("emit", s, std::string(event), activity_feed::cut(std::move(text)), bytes);
}

bool socketio_client::update(const update_socket& u) {
  auto* s = find_socket(u.key);
  if (!s || !s->connected)
    return false;
  switch (u.kind) {
  case socket_update_kind::join:
    for (auto& room : u.rooms)
      if (join(*s, room) == socket::join_result::limit_reached)
        spdlog::debug("session {}: socket {} not joined to a room by the server API: max-rooms-per-socket",
                      session_.sid(), s->id);
    break;
  case socket_update_kind::leave:
    for (auto& room : u.rooms)
      leave(*s, room);
    break;
  case socket_update_kind::disconnect:
    server_disconnect(*s, u.close);
    break;
  }
  return true;
}

void socketio_client::on_ack_timeout(std::uint64_t key, std::uint64_t id) {
  auto* s = find_socket(key);
  if (!s)
    return;
  auto it = s->acks.find(id);
  if (it == s->acks.end())
    return;
  auto cb = std::move(it->second);
  s->acks.erase(it);
  metrics::global().ack_timeouts.add();
  spdlog::debug("ack timeout nsp={} socket={} id={}", s->nsp, s->id, id);
  socket handle(this, key);
  run_guarded("ack timeout", [&] { cb(handle, std::nullopt); });
}

// -- packets ------------------------------------------------------------------------------------

void socketio_client::on_packet(sp::packet& p) {
  if (p.type == sp::packet_type::connect)
    return on_connect(p);
  auto it = by_nsp_.find(p.nsp);
  if (it == by_nsp_.end()) {
    // As the reference ("invalid state"): a packet for a namespace the client is not
    // connected to closes the connection.
    spdlog::debug("session {}: packet for namespace {} without a socket", session_.sid(), p.nsp);
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

void socketio_client::on_connect(sp::packet& p) {
  const auto& rev = revision();
  // Socket.IO v2 puts the namespace's query in its name ("/admin?token=x") and has no
  // auth payload: the query (the connection's and the namespace's) stands in for auth.
  json::object query_auth;
  if (rev.auth_from_query) {
    for (auto& [k, v] : handshake_->query)
      query_auth[k] = v;
    if (auto q = p.nsp.find('?'); q != std::string::npos) {
      for (auto& [k, v] : http::parse_query(std::string_view(p.nsp).substr(q + 1)))
        query_auth[k] = v;
      p.nsp.resize(q);
    }
  }
  if (by_nsp_.count(p.nsp) || restoring_.count(p.nsp)) {
    // Already connected: v2 answers again (ElephantIO sends "40" after its upgrade), v5
    // ignores it, as their references do.
    if (rev.answers_repeated_connect && by_nsp_.count(p.nsp))
      send_packet(rev.connect_ok(p.nsp, {}, {}));
    return;
  }
  // Sockets in a middleware or a restore count too: each holds its state until answered.
  if (sockets_.size() + restoring_.size() >= core_->opts.max_namespaces_per_connection)
    return send_packet(rev.connect_error(p.nsp, "Too many namespaces", nullptr));
  auto ns = core_->find_namespace(p.nsp);
  if (!ns)
    return send_packet(rev.connect_error(p.nsp, "Invalid namespace", nullptr));
  // Connection state recovery: a CONNECT naming a session (its pid and the last offset
  // the client got, both strings, as socket.io's) asks the recovery actor first; anything
  // but a restore connects afresh, with no error, as in socket.io.
  if (core_->recovery && !rev.auth_from_query && p.has_data && p.data.is_object()) {
    auto& auth = p.data.as_object();
    auto* pid = auth.if_contains("pid");
    auto* offset = auth.if_contains("offset");
    // Ours are 20 characters: longer ones cannot be ours, and are not worth a lookup.
    constexpr std::size_t longest = 64;
    if (pid && pid->is_string() && offset && offset->is_string() && pid->as_string().size() <= longest
        && offset->as_string().size() <= longest) {
      restoring_.insert(p.nsp);
      recovery_claim claim{p.nsp, std::string(pid->as_string()), std::string(offset->as_string())};
      auto pending = std::make_shared<sp::packet>(std::move(p));
      auto entry = *ns;
      auto resume = [this, pending, entry](recovery_claimed* restored) {
        restoring_.erase(pending->nsp);
        if (!session_.closed())
          add_socket(*pending, entry, {}, restored);
        else if (restored) // gone while the claim was out: it may still come back
          caf::anon_send(core_->recovery, recovery_park{std::move(restored->session)});
      };
      self_->request(core_->recovery, std::chrono::seconds(5), std::move(claim))
          .then([resume](recovery_claimed& c) { resume(&c); },
                [this, resume](caf::error& err) {
                  spdlog::debug("recovery: not restored (a fresh socket) session={}: {}", session_.sid(),
                                self_->system().render(err));
                  resume(nullptr);
                });
      return;
    }
  }
  add_socket(p, *ns, std::move(query_auth), nullptr);
}

void socketio_client::add_socket(sp::packet& p, const server_core::namespace_entry& ns, json::object query_auth,
                                 recovery_claimed* restored) {
  const auto& rev = revision();
  auto refuse = [&](std::string_view message, const json::value* data) {
    send_packet(rev.connect_error(p.nsp, message, data));
  };
  auto st = std::make_unique<socket_state>();
  st->key = next_key();
  st->id = restored ? restored->session.sid : make_id();
  st->nsp = p.nsp;
  st->nsp_actor = ns.actor;
  st->def = ns.def;
  // Sockets share the client's handshake; one with its own auth gets its own copy.
  st->handshake = handshake_;
  if ((p.has_data && p.data.is_object() && !p.data.as_object().empty()) || !query_auth.empty()) {
    auto own = std::make_shared<handshake_info>(*handshake_);
    own->auth = p.has_data && p.data.is_object() ? p.data.as_object() : std::move(query_auth);
    if (core_->recovery)
      own->auth.erase("pid"); // a credential: it restores this socket's identity
    st->handshake = std::move(own);
  }
  if (core_->recovery && !rev.auth_from_query)
    st->pid = restored ? restored->session.pid : make_private_id();
  if (restored) {
    st->recovered = true;
    st->rooms.insert(restored->session.rooms.begin(), restored->session.rooms.end());
    boost::system::error_code ec;
    auto data = json::parse(restored->session.data, ec);
    if (!ec && data.is_object())
      st->data = std::move(data.as_object());
  }
  auto key = st->key;
  sockets_.emplace(key, std::move(st));
  socket handle(this, key);

  bool skip_middlewares = restored && core_->opts.recovery.skip_middlewares;
  for (const auto& mw : ns.def->middlewares) {
    if (skip_middlewares)
      break;
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
  if (!find_socket(key) || session_.closed()) // a middleware disconnected it, or closed the session
    return;
  if (restored) {
    // What it missed goes first, before the socket takes live events (so none overtakes
    // them) and before the CONNECT answer (socket.io's order: the client runs the missed
    // events' handlers before its `connect`). A replay past the queue's cap ends the
    // session while the socket is not connected yet: nothing is parked again, the client
    // starts afresh next time.
    for (auto& frame : restored->missed)
      send_own_frame(frame);
    if (!find_socket(key) || session_.closed())
      return;
  }
  auto* s = find_socket(key);
  s->connected = true;
  ever_connected_ = true;
  pending_.reset();
  by_nsp_[s->nsp] = key;
  s->rooms.insert(s->id);
  self_->send(s->nsp_actor, socket_add{key, s->id, caf::actor_cast<caf::actor>(self_), session_.sink()});
  for (auto& room : s->rooms)
    if (room != s->id)
      self_->send(s->nsp_actor, room_join{key, room});
  send_packet(rev.connect_ok(s->nsp, s->id, s->pid));
  s = find_socket(key);
  if (!s) // the answer passed the queue's cap and ended the session
    return;
  write_recovery_record(*s);
  metrics::global().connects.add();
  if (core_->activity->admit("connect", s->nsp, {})) {
    // The socket as fetch_sockets shows it (what the Admin UI lists), its auth left out.
    if (auto d = describe(key)) {
      d->auth.clear();
      report("connect", *s, session_.transport_name(), json::serialize(remote_socket_to_json(*d)), 0);
    }
  }
  spdlog::debug("connect nsp={} socket={} session={} transport={} protocol={} address={}{}", s->nsp, s->id,
                session_.sid(), session_.transport_name(), rev.engineio, handshake_->address,
                restored ? " recovered" : "");
  for (auto& on_connection : ns.def->on_connection)
    if (handle.connected())
      run_guarded("connection", [&] { on_connection(handle); });
}

void socketio_client::on_event(socket_state& s, sp::packet& p) {
  auto& arr = p.data.as_array();
  std::string name(arr[0].as_string());
  metrics::global().events_in.add();
  if (spdlog::should_log(spdlog::level::debug))
    spdlog::debug("event nsp={} socket={} event={} args={} attachments={} ack={}", s.nsp, s.id, name, arr.size() - 1,
                  p.attachments.size(), p.id ? "yes" : "no");
  if (core_->activity->admit("event", s.nsp, name)) {
    json::array args(arr.begin() + 1, arr.end());
    auto text = json::serialize(args);
    auto bytes = text.size();
    for (auto& a : p.attachments)
      bytes += a.size();
    report("event", s, name, activity_feed::cut(std::move(text)), bytes);
  }
  // The module's handler (the definition is immutable: no copy), then the socket's own
  // listeners (copied: a listener may add more while running).
  const event_handler* declared = nullptr;
  if (auto it = s.def->events.find(name); it != s.def->events.end())
    declared = &it->second.handler;
  auto listeners = s.handlers.find(name);
  if (!declared && listeners == s.handlers.end())
    return;
  std::vector<event_handler> own;
  if (listeners != s.handlers.end())
    own = listeners->second;
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
      send_own_frame(frame_of(out));
    });
  }
  socket handle(this, s.key);
  auto def = s.def; // the socket, and its state, may be gone once a handler ran
  if (declared)
    run_guarded(name.c_str(), [&] { (*declared)(handle, m, ack); });
  for (auto& fn : own)
    if (handle.connected())
      run_guarded(name.c_str(), [&] { fn(handle, m, ack); });
}

void socketio_client::on_ack(socket_state& s, sp::packet& p) {
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
  run_guarded("ack", [&] { cb(handle, std::move(m)); });
}

void socketio_client::send_frame(const shared_frame& frame, bool is_volatile) {
  session_.send(to_ws(frame, core_->opts.msgpack_parser && !raw_), is_volatile);
}

void socketio_client::report(const char* kind, const socket_state& s, std::string name, std::string detail,
                             std::uint64_t bytes) {
  activity a;
  a.kind = kind;
  a.nsp = s.nsp;
  a.socket = s.id;
  a.name = std::move(name);
  a.detail = std::move(detail);
  a.bytes = bytes;
  core_->activity->publish(std::move(a));
}

void socketio_client::send_packet(const std::string& text) {
  // The server's own small packets (CONNECT answers, DISCONNECT), written by the codec as
  // text: in MessagePack for a msgpack server.
  if (!core_->opts.msgpack_parser || raw_) {
    session_.send_message(text);
    return;
  }
  if (auto bytes = sp::msgpack_parser::from_text(text, {}))
    session_.send({http::ws_message{true, std::make_shared<const std::string>(std::move(*bytes))}});
  else
    spdlog::error("session {}: a packet that is not Socket.IO cannot be sent in MessagePack: {:.80}", session_.sid(),
                  text);
}

void socketio_client::send_own_frame(const shared_frame& frame) {
  auto& m = metrics::global();
  m.deliveries.add();
  m.bytes_out.add(frame.bytes());
  send_frame(frame);
}

// -- the socket API --------------------------------------------------------------------------------

socketio_client::socket_state* socketio_client::find_socket(std::uint64_t key) {
  auto it = sockets_.find(key);
  return it == sockets_.end() ? nullptr : it->second.get();
}

void socketio_client::emit(socket_state& s, std::string_view event, const message& m) {
  report_sent(s, event, m);
  if (s.pid.empty())
    return send_own_frame(make_frame(engineio::encode_message(encode_event(s.nsp, event, m)), m.attachments));
  // Connection state recovery: an event to this one socket carries an offset too, and is
  // kept for its restore (socket.io sends it through the adapter for the same reason).
  auto offset = make_id();
  auto frame = shared_frame{std::make_shared<const wire_packet>(wire_packet{
      engineio::encode_message(encode_event(s.nsp, event, m, std::nullopt, offset)), m.attachments, {}, true})};
  caf::anon_send(core_->recovery, recovery_append{s.nsp, offset, {s.id}, {}, frame});
  send_own_frame(frame);
}

void socketio_client::emit_with_ack(socket_state& s, std::string_view event, const message& m,
                                    std::chrono::milliseconds timeout, ack_callback cb) {
  auto id = s.next_ack_id++;
  auto key = s.key; // a send over the cap ends the session, and `s` with it
  s.acks.emplace(id, std::move(cb));
  report_sent(s, event, m);
  send_own_frame(make_frame(engineio::encode_message(encode_event(s.nsp, event, m, id)), m.attachments));
  if (find_socket(key))
    self_->delayed_send(self_, timeout, ack_timeout_atom::value, key, id);
}

socket::join_result socketio_client::join(socket_state& s, const std::string& room) {
  if (s.rooms.count(room))
    return socket::join_result::already_in;
  // The own-id room counts too, as in socket.io's `socket.rooms`.
  if (s.rooms.size() >= core_->opts.max_rooms_per_socket)
    return socket::join_result::limit_reached;
  s.rooms.insert(room);
  self_->send(s.nsp_actor, room_join{s.key, room});
  write_recovery_record(s);
  if (core_->activity->admit("join", s.nsp, room))
    report("join", s, room, {}, 0);
  return socket::join_result::joined;
}

void socketio_client::leave(socket_state& s, const std::string& room) {
  if (s.rooms.erase(room)) {
    self_->send(s.nsp_actor, room_leave{s.key, room});
    write_recovery_record(s);
    if (core_->activity->admit("leave", s.nsp, room))
      report("leave", s, room, {}, 0);
  }
}

void socketio_client::write_recovery_record(const socket_state& s) {
  // Only for a store shared with other nodes: a socket whose node dies is never parked,
  // so its record must already be there (rooms as of its last join or leave).
  if (s.pid.empty() || !s.connected || !core_->recovery_shared)
    return;
  caf::anon_send(core_->recovery, recovery_live{recovery_session{s.pid, s.nsp, s.id, {s.rooms.begin(), s.rooms.end()},
                                                                 json::serialize(s.data), 0, id_prefix(node_id())}});
}

void socketio_client::server_disconnect(socket_state& s, bool close_connection) {
  auto key = s.key; // a send over the cap ends the session, and `s` with it
  if (s.connected)
    send_packet(sp::encode_disconnect(s.nsp));
  remove_socket(key, "server namespace disconnect");
  if (close_connection)
    close_session("server namespace disconnect");
}

void socketio_client::remove_socket(std::uint64_t key, const std::string& reason) {
  auto it = sockets_.find(key);
  if (it == sockets_.end())
    return;
  auto& s = *it->second;
  bool was_connected = s.connected;
  s.connected = false;
  if (was_connected) {
    metrics::global().disconnects.add();
    spdlog::debug("disconnect nsp={} socket={} session={} reason={}", s.nsp, s.id, session_.sid(), reason);
    if (core_->activity->admit("disconnect", s.nsp, reason)) {
      json::array rooms; // the Admin UI's room_left for each
      for (auto& r : s.rooms)
        rooms.emplace_back(r);
      report("disconnect", s, reason, json::serialize(rooms), 0);
    }
    by_nsp_.erase(s.nsp);
    self_->send(s.nsp_actor, socket_remove{key});
    socket handle(this, key);
    auto def = s.def;
    auto handlers = s.disconnect_handlers; // before any handler runs: one may remove `s`
    // Connection state recovery keeps a socket that may come back: its rooms as they were,
    // its data as the disconnect handlers leave it (socket.io's order).
    std::optional<recovery_session> parked;
    if (!s.pid.empty() && core_->recovery && recoverable_disconnect(reason))
      parked = recovery_session{s.pid, s.nsp, s.id, {s.rooms.begin(), s.rooms.end()}, {}, 0, {}};
    else if (!s.pid.empty() && core_->recovery_shared)
      caf::anon_send(core_->recovery, recovery_forget{s.pid});
    for (auto& h : def->on_disconnect)
      run_guarded("disconnect", [&] { h(handle, reason); });
    for (auto& h : handlers)
      run_guarded("disconnect", [&] { h(handle, reason); });
    if (parked) {
      if (auto* still = find_socket(key))
        parked->data = json::serialize(still->data);
      else
        parked->data = "{}";
      parked->disconnected_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
      caf::anon_send(core_->recovery, recovery_park{std::move(*parked)});
    }
  }
  sockets_.erase(key);
}

} // namespace sio

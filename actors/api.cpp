// The application API: socket handles forward to their connection actor's state,
// broadcasts encode once and go to the namespace actor.
#include "actors/api.hpp"

#include "actors/api_service.hpp"
#include "actors/cluster_node.hpp"
#include "actors/core.hpp"
#include "actors/ids.hpp"
#include "actors/socketio_client.hpp"
#include "actors/messages.hpp"
#include "transport/engineio/packet.hpp"
#include "transport/http/server.hpp"
#include "transport/socketio/packet.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace sio {

namespace {

const std::string empty_string;
const handshake_info empty_handshake;

// As socket.io's emit throws on them: a client that receives "disconnect" or "connect"
// drops the connection.
void refuse_reserved(std::string_view event) {
  if (socketio::is_reserved_event(event))
    throw std::invalid_argument("reserved event name: " + std::string(event));
}

} // namespace

const std::string* handshake_info::header(std::string_view name) const {
  return http::find_value(headers, name);
}
const std::string* handshake_info::param(std::string_view name) const {
  return http::find_value(query, name);
}

void log_handler_error(const char* what, const char* error) {
  if (error)
    spdlog::error("{} handler threw: {}", what, error);
  else
    spdlog::error("{} handler threw", what);
}

json::value message::add_binary(std::string bytes) {
  auto placeholder = socketio::add_attachment(attachments, std::move(bytes));
  args.push_back(placeholder);
  return placeholder;
}

void ack_responder::operator()(message m) const {
  if (!fn_)
    return;
  auto fn = std::move(fn_);
  fn_ = nullptr;
  fn(std::move(m));
}

std::string encode_event(std::string_view nsp, std::string_view event, const message& m,
                         std::optional<std::uint64_t> ack_id, std::string_view offset) {
  json::array data;
  data.reserve(m.args.size() + 2);
  data.emplace_back(event);
  for (auto& a : m.args)
    data.push_back(a);
  if (!offset.empty())
    data.emplace_back(offset);
  socketio::packet p;
  p.type = socketio::packet_type::event;
  p.nsp = std::string(nsp);
  p.id = ack_id;
  p.data = std::move(data);
  p.has_data = true;
  // Only the count matters for the text; the bytes travel beside it.
  p.attachments.resize(m.attachments.size());
  return socketio::encode(p);
}

// -- broadcast -----------------------------------------------------------------------

broadcast::broadcast(caf::actor nsp_actor, std::string nsp, std::shared_ptr<server_core> core)
    : nsp_actor_(std::move(nsp_actor)), nsp_(std::move(nsp)), core_(std::move(core)) {}

broadcast broadcast::to(std::string room) const {
  auto b = *this;
  b.rooms_.push_back(std::move(room));
  return b;
}

broadcast broadcast::except(std::string room) const {
  auto b = *this;
  b.except_.push_back(std::move(room));
  return b;
}

broadcast broadcast::volatile_() const {
  auto b = *this;
  b.is_volatile_ = true;
  return b;
}

broadcast broadcast::local() const {
  auto b = *this;
  b.local_ = true;
  return b;
}

void broadcast::emit(std::string_view event, message m) const {
  refuse_reserved(event);
  if (!nsp_actor_)
    return;
  // With connection state recovery every broadcast that is not volatile carries an offset
  // (one for all its recipients, as socket.io's): the namespace actors keep it for restores.
  std::string offset;
  if (core_ && core_->opts.recovery.enabled && !is_volatile_)
    offset = make_id();
  auto frame = shared_frame{std::make_shared<const wire_packet>(wire_packet{
      engineio::encode_message(encode_event(nsp_, event, m, std::nullopt, offset)), std::move(m.attachments), {},
      !offset.empty()})};
  caf::anon_send(nsp_actor_,
                 broadcast_request{rooms_, except_, std::move(frame), is_volatile_, local_, std::move(offset)});
}

void broadcast::fetch_sockets(sockets_fn done, std::chrono::milliseconds timeout) const {
  if (!done)
    return;
  if (!core_ || !nsp_actor_)
    return done({});
  gather<remote_socket_list>(core_->sys, api_services(*core_, true, !local_),
                             fetch_sockets_request{{nsp_, rooms_, except_}, timeout.count()}, timeout,
                             [done = std::move(done)](std::vector<remote_socket_list> lists) {
                               std::vector<remote_socket> all;
                               for (auto& l : lists)
                                 std::move(l.sockets.begin(), l.sockets.end(), std::back_inserter(all));
                               done(std::move(all));
                             });
}

void broadcast::sockets_join(std::vector<std::string> rooms, count_fn done, std::chrono::milliseconds timeout) const {
  update_sockets(socket_update_kind::join, std::move(rooms), false, std::move(done), timeout);
}

void broadcast::sockets_leave(std::vector<std::string> rooms, count_fn done, std::chrono::milliseconds timeout) const {
  update_sockets(socket_update_kind::leave, std::move(rooms), false, std::move(done), timeout);
}

void broadcast::disconnect_sockets(bool close_connection, count_fn done, std::chrono::milliseconds timeout) const {
  update_sockets(socket_update_kind::disconnect, {}, close_connection, std::move(done), timeout);
}

void broadcast::update_sockets(socket_update_kind kind, std::vector<std::string> rooms, bool close, count_fn done,
                               std::chrono::milliseconds timeout) const {
  if (!core_ || !nsp_actor_) {
    if (done)
      done(0);
    return;
  }
  update_sockets_request req{{nsp_, rooms_, except_}, kind, std::move(rooms), close, timeout.count()};
  auto targets = api_services(*core_, true, !local_);
  // Asked even when nobody waits for the count: the services serve only a sender they
  // know (from_member refuses anonymous messages).
  if (!done)
    done = [](std::size_t) {};
  gather<std::uint64_t>(core_->sys, std::move(targets), std::move(req), timeout,
                        [done = std::move(done)](std::vector<std::uint64_t> counts) {
                          std::size_t total = 0;
                          for (auto n : counts)
                            total += n;
                          done(total);
                        });
}

// -- socket ------------------------------------------------------------------------------

const std::string& socket::id() const {
  auto* s = conn_->find_socket(key_);
  return s ? s->id : empty_string;
}

const std::string& socket::nsp() const {
  auto* s = conn_->find_socket(key_);
  return s ? s->nsp : empty_string;
}

const handshake_info& socket::handshake() const {
  auto* s = conn_->find_socket(key_);
  return s && s->handshake ? *s->handshake : empty_handshake;
}

json::object& socket::data() {
  static thread_local json::object scratch; // a gone socket's data goes nowhere
  auto* s = conn_->find_socket(key_);
  if (!s) {
    scratch.clear();
    return scratch;
  }
  return s->data;
}

bool socket::connected() const {
  auto* s = conn_->find_socket(key_);
  return s && s->connected;
}

bool socket::recovered() const {
  auto* s = conn_->find_socket(key_);
  return s && s->recovered;
}

void socket::on(std::string event, event_handler handler) {
  if (auto* s = conn_->find_socket(key_))
    s->handlers[std::move(event)].push_back(std::move(handler));
}

void socket::on_disconnect(disconnect_handler handler) {
  if (auto* s = conn_->find_socket(key_))
    s->disconnect_handlers.push_back(std::move(handler));
}

void socket::emit(std::string_view event, message m) {
  refuse_reserved(event);
  auto* s = conn_->find_socket(key_);
  if (s && s->connected)
    conn_->emit(*s, event, m);
}

void socket::emit_with_ack(std::string_view event, message m, std::chrono::milliseconds timeout, ack_callback cb) {
  refuse_reserved(event);
  auto* s = conn_->find_socket(key_);
  if (s && s->connected)
    conn_->emit_with_ack(*s, event, m, timeout, std::move(cb));
}

socket::join_result socket::join(const std::string& room) {
  auto* s = conn_->find_socket(key_);
  if (!s || !s->connected)
    return join_result::not_connected;
  return conn_->join(*s, room);
}

void socket::leave(const std::string& room) {
  auto* s = conn_->find_socket(key_);
  if (s && s->connected)
    conn_->leave(*s, room);
}

bool socket::in_room(const std::string& room) const {
  auto* s = conn_->find_socket(key_);
  return s && s->rooms.count(room) > 0;
}

std::set<std::string> socket::rooms() const {
  auto* s = conn_->find_socket(key_);
  return s ? s->rooms : std::set<std::string>{};
}

broadcast socket::broadcast_all() const {
  auto* s = conn_->find_socket(key_);
  if (!s)
    return {};
  return broadcast(s->nsp_actor, s->nsp, conn_->core()).except(s->id);
}

broadcast socket::to(std::string room) const {
  return broadcast_all().to(std::move(room));
}
broadcast socket::except(std::string room) const {
  return broadcast_all().except(std::move(room));
}

broadcast socket::nsp_all() const {
  auto* s = conn_->find_socket(key_);
  return s ? broadcast(s->nsp_actor, s->nsp, conn_->core()) : broadcast{};
}

void socket::disconnect(bool close_connection) {
  if (auto* s = conn_->find_socket(key_))
    conn_->server_disconnect(*s, close_connection);
}

caf::event_based_actor* socket::actor_self() const {
  return conn_->self();
}

void socket::close_transport() {
  conn_->close_session("server namespace disconnect");
}

} // namespace sio

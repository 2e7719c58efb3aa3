#include "actors/engineio_session.hpp"
#include "actors/metrics.hpp"

#include <spdlog/spdlog.h>

namespace sio {

using namespace std::chrono_literals;
namespace eio = engineio;

namespace {

/// How often a GET waiting during an upgrade probe gets its noop (the reference: 100 ms).
constexpr std::chrono::milliseconds probe_tick{100};

std::shared_ptr<const std::string> shared_text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

http::ws_message text_message(std::string s) {
  return {false, shared_text(std::move(s))};
}

http::response bad_request() {
  return http::response::json(400, eio::error_body(eio::error_code::bad_request));
}

std::string handshake_text(const server_core& core, const std::string& sid, bool over_polling, bool v3) {
  eio::handshake h;
  h.sid = sid;
  if (over_polling)
    h.upgrades = {"websocket"};
  h.ping_interval_ms = static_cast<std::uint32_t>(core.opts.ping_interval.count());
  h.ping_timeout_ms = static_cast<std::uint32_t>(core.opts.ping_timeout.count());
  h.max_payload = core.opts.max_http_buffer_size;
  h.v3 = v3;
  return eio::encode_text(eio::packet_type::open, eio::encode_handshake(h));
}

} // namespace

// -- start and handshake ---------------------------------------------------------------------------

void engineio_session::start(std::shared_ptr<server_core> core, std::shared_ptr<session_entry> entry, std::string sid) {
  core_ = std::move(core);
  entry_ = std::move(entry);
  sid_ = std::move(sid);
  revision_ = &revision_for(entry_->protocol);
  schedule_ping();
}

void engineio_session::answer_handshake(http::reply_ptr reply) {
  transport_ = transport_kind::polling;
  entry_->transport = static_cast<int>(transport_kind::polling);
  // The open packet, and what the owner queues in on_open (v3: the "/" CONNECT that
  // Socket.IO v2 sends by itself), in one payload.
  outbox_.push_back(text_message(handshake_text(*core_, sid_, true, revision_->engineio == 3)));
  outbox_bytes_ += outbox_.back().data->size();
  owner_.on_open();
  if (closed_ && !awaiting_close_get_)
    return reply->send(bad_request()); // ended at once while opening
  pending_get_ = std::move(reply);
  flush();
  if (awaiting_close_get_) // closed while opening: the close packet went with the handshake
    finish();
}

void engineio_session::start_websocket(std::uint64_t channel, http::ws_channel_ptr ws) {
  transport_ = transport_kind::websocket;
  entry_->transport = static_cast<int>(transport_kind::websocket);
  ws_ = std::move(ws);
  ws_channel_ = channel;
  send({text_message(handshake_text(*core_, sid_, false, revision_->engineio == 3))});
  if (revision_->direct_delivery)
    sink_->publish(ws_);
  owner_.on_open();
}

// -- polling ------------------------------------------------------------------------------------

void engineio_session::on_poll_get(http::reply_ptr reply) {
  if (awaiting_close_get_) {
    if (outbox_.empty()) { // the close packet went out already
      reply->send(bad_request());
    } else {
      pending_get_ = std::move(reply);
      flush();
    }
    return finish();
  }
  if (closed() || transport_ != transport_kind::polling)
    return reply->send(bad_request());
  if (heartbeat_expired())
    return expire(std::move(reply));
  if (pending_get_) {
    // A second concurrent GET: the reference ends the session ("overlap from client"); the
    // first GET gets the close packet.
    reply->send(bad_request());
    return end_session("transport error");
  }
  pending_get_ = std::move(reply);
  // While an upgrade is probed, a waiting GET is ended by the probe tick below.
  if (!outbox_.empty())
    flush();
}

void engineio_session::on_poll_post(std::string body, bool binary_body, http::reply_ptr reply) {
  if (closed() || transport_ != transport_kind::polling)
    return reply->send(bad_request());
  if (heartbeat_expired())
    return expire(std::move(reply));
  auto packets = revision_->decode_payload(body, binary_body);
  if (!packets) {
    reply->send(bad_request());
    return end_session("parse error");
  }
  reply->send(http::response::text(200, "ok", "text/html"));
  for (auto& p : *packets) {
    if (closed())
      break;
    on_packet(p);
  }
}

void engineio_session::schedule_flush() {
  // Like the reference's nextTick: packets emitted while handling one message leave in
  // one payload.
  if (flush_scheduled_)
    return;
  flush_scheduled_ = true;
  self_->send(self_, flush_atom::value);
}

void engineio_session::on_flush() {
  flush_scheduled_ = false;
  flush();
}

void engineio_session::flush() {
  if (!pending_get_ || outbox_.empty())
    return;
  pending_get_->send(revision_->payload_response(outbox_, entry_->base64_only));
  pending_get_.reset();
  outbox_.clear();
  outbox_bytes_ = 0;
}

// -- WebSocket and the upgrade --------------------------------------------------------------------

void engineio_session::on_ws_attach(ws_attach& a) {
  // Accepted by the front end whatever the state: an extra WebSocket is closed here, as
  // the reference does.
  if (closed() || transport_ != transport_kind::polling || probe_)
    return a.ws->close(1000, "upgrade refused");
  probe_ = std::move(a.ws);
  probe_channel_ = a.channel;
  probe_answered_ = false;
  self_->delayed_send(self_, core_->opts.upgrade_timeout, upgrade_timeout_atom::value, a.channel);
}

void engineio_session::on_ws_in(ws_in& in) {
  // Flow control: tell the session this message is handled (it may resume reading).
  auto& from = in.channel == ws_channel_ ? ws_ : probe_;
  if (from && (in.channel == ws_channel_ || in.channel == probe_channel_))
    from->consumed(in.data.size());
  if (closed())
    return;
  auto packet = revision_->decode_frame(in.binary, in.data);
  if (in.channel == ws_channel_ && transport_ == transport_kind::websocket) {
    if (!packet)
      return end_session("parse error");
    return on_packet(*packet);
  }
  if (!probe_ || in.channel != probe_channel_)
    return;
  // The upgrade: 2probe -> 3probe -> (a noop ends the waiting GET) -> 5.
  if (packet && packet->type == eio::packet_type::ping && packet->data == "probe") {
    probe_->send(text_message(eio::encode_text(eio::packet_type::pong, "probe")));
    if (!probe_answered_)
      self_->delayed_send(self_, probe_tick, probe_tick_atom::value, probe_channel_);
    probe_answered_ = true;
    return;
  }
  // The reference takes an upgrade without a probe too: ElephantIO (Version2X) sends "5"
  // at once.
  if (packet && packet->type == eio::packet_type::upgrade)
    return complete_upgrade();
  probe_->close(1000, "bad upgrade");
  probe_.reset();
}

void engineio_session::complete_upgrade() {
  transport_ = transport_kind::websocket;
  entry_->transport = static_cast<int>(transport_kind::websocket);
  ws_ = std::move(probe_);
  ws_channel_ = probe_channel_;
  probe_channel_ = 0;
  if (pending_get_) {
    // A client ends its GET before it sends "5": this one was sent after the "5" and reached
    // the session before it (another connection, another I/O thread). It finds a session
    // that is no longer polling, as if it had come later.
    pending_get_->send(bad_request());
    pending_get_.reset();
  }
  // Whatever waited for a GET goes over the WebSocket now, minus upgrade noops.
  auto noop = eio::encode_text(eio::packet_type::noop);
  std::vector<http::ws_message> rest;
  for (auto& m : outbox_)
    if (m.binary || *m.data != noop)
      rest.push_back(std::move(m));
  outbox_.clear();
  outbox_bytes_ = 0;
  if (!rest.empty())
    send(std::move(rest));
  // From now on broadcasts go straight to the WebSocket. A `deliver` already in the
  // actor's mailbox can still arrive after one of those: ordering across the switch is
  // only kept for frames the connection itself sends.
  if (revision_->direct_delivery)
    sink_->publish(ws_);
  owner_.on_upgraded();
}

void engineio_session::on_probe_tick(std::uint64_t channel) {
  // As the reference's 100 ms check: while the probe waits for "5", a waiting GET gets a
  // noop (the client switches once its GET is back). Not at once: a "5" already on its
  // way finds the GET still waiting and refuses it instead.
  if (!probe_ || probe_channel_ != channel || closed())
    return;
  if (pending_get_) {
    if (outbox_.empty()) {
      outbox_.push_back(text_message(eio::encode_text(eio::packet_type::noop)));
      outbox_bytes_ += 1;
    }
    flush();
  }
  self_->delayed_send(self_, probe_tick, probe_tick_atom::value, channel);
}

void engineio_session::on_ws_gone(const ws_gone& gone) {
  if (gone.channel == ws_channel_ && transport_ == transport_kind::websocket) {
    ws_.reset();
    return end_session(gone.reason);
  }
  if (gone.channel == probe_channel_ && probe_)
    probe_.reset();
}

void engineio_session::on_upgrade_timeout(std::uint64_t channel) {
  if (probe_ && probe_channel_ == channel) {
    probe_->close(1000, "upgrade timeout");
    probe_.reset();
  }
}

// -- packets and heartbeat -----------------------------------------------------------------------

void engineio_session::on_packet(eio::packet& p) {
  switch (p.type) {
  case eio::packet_type::pong:
    if (awaiting_pong_)
      schedule_ping();
    return;
  case eio::packet_type::message:
    if (entry_->raw) {
      // The raw Engine.IO echo endpoint: every message goes back unchanged.
      send({p.binary ? http::ws_message{true, shared_text(std::move(p.data))}
                     : text_message(eio::encode_message(p.data))});
      return;
    }
    return owner_.on_message(p);
  case eio::packet_type::close:
    return close("transport close", close_kind::by_client);
  case eio::packet_type::ping: // the v3 heartbeat (v4 clients do not ping)
    send({text_message(eio::encode_text(eio::packet_type::pong, p.data))});
    if (!revision_->server_pings)
      schedule_ping();
    return;
  default:
    return; // open / upgrade / noop carry nothing for an established session
  }
}

bool engineio_session::heartbeat_expired() const {
  return !closed() && self_->clock().now() >= heartbeat_deadline_;
}

void engineio_session::schedule_ping() {
  ++ping_generation_;
  heartbeat_deadline_ = self_->clock().now() + core_->opts.ping_interval + core_->opts.ping_timeout;
  if (!revision_->server_pings) {
    // The client pings; silence for pingInterval + pingTimeout closes.
    awaiting_pong_ = true;
    self_->delayed_send(self_, core_->opts.ping_interval + core_->opts.ping_timeout, ping_timeout_atom::value,
                        ping_generation_);
    return;
  }
  awaiting_pong_ = false;
  // Both timers are set now: a ping handled late (a busy thread) does not push the
  // deadline back, so a silent client is gone pingInterval + pingTimeout after the last
  // pong, as the client computes it.
  self_->delayed_send(self_, core_->opts.ping_interval, ping_atom::value, ping_generation_);
  self_->delayed_send(self_, core_->opts.ping_interval + core_->opts.ping_timeout, ping_timeout_atom::value,
                      ping_generation_);
}

void engineio_session::on_ping(std::uint64_t generation) {
  if (generation != ping_generation_ || closed())
    return;
  send({text_message(eio::encode_text(eio::packet_type::ping))});
  awaiting_pong_ = true;
}

void engineio_session::expire(http::reply_ptr reply) {
  // The heartbeat deadline passed but its timer has not run yet (a busy thread): the
  // request finds the session gone, as it would a moment later.
  end_session("ping timeout");
  reply->send(http::response::json(400, eio::error_body(eio::error_code::unknown_sid)));
}

void engineio_session::on_ping_timeout(std::uint64_t generation) {
  if (generation == ping_generation_ && awaiting_pong_)
    end_session("ping timeout");
}

// -- output -----------------------------------------------------------------------------------

bool engineio_session::send_message(std::string_view text) {
  return send({text_message(eio::encode_message(text))});
}

bool engineio_session::send(std::vector<http::ws_message> msgs, bool is_volatile) {
  if (closed_)
    return false;
  if (transport_ == transport_kind::websocket) {
    if (!ws_)
      return false;
    // A volatile packet is dropped when the client is not keeping up.
    if (is_volatile && ws_->queued_bytes() > 0)
      return false;
    for (auto& m : msgs)
      if (m.binary && revision_->engineio == 3)
        m.data = shared_text(revision_->binary_frame(*m.data));
    auto result = ws_->send(std::move(msgs));
    if (result == http::ws_channel::send_result::over_cap) {
      on_overcap();
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
    metrics::global().dropped(drop_reason::polling_buffer);
    end_session("transport error");
    return false;
  }
  if (pending_get_)
    schedule_flush();
  return true;
}

void engineio_session::on_overcap() {
  abort_transport_ = true; // also when already closing: the full queue is not waited for
  if (closed())
    return;
  spdlog::warn("session {}: write queue over {} bytes, disconnecting", sid_, core_->opts.max_queue_bytes);
  metrics::global().dropped(drop_reason::write_queue);
  end_session("transport error");
}

// -- close ------------------------------------------------------------------------------------

void engineio_session::close_session(const std::string& reason) {
  close(reason, close_kind::goodbye);
}

void engineio_session::end_session(const std::string& reason) {
  close(reason, close_kind::at_once);
}

void engineio_session::close(const std::string& reason, close_kind kind) {
  if (closed())
    return;
  closing_ = true; // the owner's disconnect handlers may try to close again
  owner_.on_closing(reason);
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
  outbox_.push_back(text_message(eio::encode_text(last)));
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

void engineio_session::on_close_timeout() {
  if (awaiting_close_get_)
    finish();
}

void engineio_session::finish() {
  awaiting_close_get_ = false;
  core_->remove_session(sid_);
  self_->quit();
}

} // namespace sio

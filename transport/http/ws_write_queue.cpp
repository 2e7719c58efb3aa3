#include "transport/http/ws_write_queue.hpp"

#include "transport/http/permessage_deflate.hpp"
#include "transport/http/ws_frame.hpp"
#include "transport/http/zlib_stream.hpp"

#include <algorithm>
#include <iterator>
#include <unordered_map>

namespace sio::http {

namespace {

/// `message` as permessage-deflate sends it (no context takeover: the same bytes for
/// every client), or null when compressing does not make it smaller. A broadcast's
/// frames to many clients share one string: each thread remembers what it compressed
/// (up to max_entries strings or max_bytes of results, then it starts over), so a string
/// is compressed once per I/O thread rather than once per client, also when a batched
/// write holds many broadcasts.
std::shared_ptr<const std::string> deflated(const std::shared_ptr<const std::string>& message, int bits) {
  constexpr std::size_t max_entries = 4096;
  constexpr std::size_t max_bytes = 16 * 1024 * 1024;
  struct entry {
    // A string is known by its address and its owner: the weak_ptr keeps the owner's
    // control block alive, so a new string at a freed address has another owner; and
    // strings aliasing one owner (a packet's text and attachments) differ by address.
    std::weak_ptr<const std::string> source;
    int bits = 0;
    std::shared_ptr<const std::string> deflated;
  };
  thread_local std::unordered_map<const std::string*, entry> known;
  thread_local std::size_t known_bytes = 0;
  if (auto at = known.find(message.get()); at != known.end()) {
    auto& e = at->second;
    if (e.bits == bits && !e.source.owner_before(message) && !message.owner_before(e.source))
      return e.deflated;
  }
  auto out = zlib::deflate(*message, zlib::format::raw, true, bits);
  // A sync flush ends with 00 00 ff ff, removed on the wire (RFC 7692 §7.2.1).
  if (out.size() >= permessage_deflate::tail.size())
    out.resize(out.size() - permessage_deflate::tail.size());
  auto result = out.size() < message->size() ? std::make_shared<const std::string>(std::move(out)) : nullptr;
  if (known.size() >= max_entries || known_bytes >= max_bytes) {
    known.clear();
    known_bytes = 0;
  }
  known[message.get()] = {message, bits, result};
  known_bytes += result ? result->size() : 0;
  return result;
}

} // namespace

ws_write_queue::send_result ws_write_queue::admit(std::size_t bytes) {
  if (closing_ || refused_.load(std::memory_order_acquire))
    return send_result::closed;
  auto before = queued_.load(std::memory_order_relaxed);
  if (before > 0 && before + bytes > max_queue_bytes_)
    return send_result::over_cap;
  queued_.fetch_add(bytes, std::memory_order_relaxed);
  return send_result::queued;
}

bool ws_write_queue::schedule() {
  if (scheduled_)
    return false;
  scheduled_ = true;
  return true;
}

ws_write_queue::pushed ws_write_queue::push(ws_message* messages, std::size_t n) {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i)
    bytes += messages[i].data ? messages[i].data->size() : 0;
  std::lock_guard<std::mutex> guard(mutex_);
  auto result = admit(bytes);
  if (result != send_result::queued)
    return {result};
  for (std::size_t i = 0; i < n; ++i) {
    auto data = messages[i].data ? std::move(messages[i].data) : std::make_shared<const std::string>();
    pending_.push_back({messages[i].binary ? wsframe::binary : wsframe::text, std::move(data)});
  }
  return {result, schedule()};
}

ws_write_queue::pushed ws_write_queue::push_control(std::uint8_t op, std::string payload) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (closing_)
    return {send_result::closed};
  auto cost = queue_cost(op, payload.size());
  if (op == wsframe::close) {
    // One per session, bounded by the session's close timer: it goes even over the cap.
    closing_ = true;
    queued_.fetch_add(cost, std::memory_order_relaxed);
  } else if (auto admitted = admit(cost); admitted != send_result::queued) {
    return {admitted};
  }
  pending_.push_back({op, std::make_shared<const std::string>(std::move(payload))});
  return {send_result::queued, schedule()};
}

ws_write_queue::pushed ws_write_queue::push_raw(std::string bytes, bool alone) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (closing_)
    return {send_result::closed};
  pending_.push_back({raw_bytes, std::make_shared<const std::string>(std::move(bytes)), false, alone});
  return {send_result::queued, schedule()};
}

void ws_write_queue::refuse_all() {
  std::lock_guard<std::mutex> guard(mutex_);
  closing_ = true;
  refused_.store(true, std::memory_order_release);
}

void ws_write_queue::drop() {
  refused_.store(true, std::memory_order_release);
  std::vector<out_frame> unsent; // freed outside the lock
  {
    std::lock_guard<std::mutex> guard(mutex_);
    closing_ = true;
    dropped_ = true;
    unsent.swap(pending_);
    for (auto& f : unsent)
      queued_.fetch_sub(queue_cost(f.op, f.data->size()), std::memory_order_relaxed);
  }
}

bool ws_write_queue::take() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (pending_.empty() || dropped_) {
      scheduled_ = false;
      release_buffers();
      return false;
    }
    auto alone = std::find_if(pending_.begin(), pending_.end(), [](const out_frame& f) { return f.alone; });
    if (alone == pending_.end()) {
      inflight_.swap(pending_);
    } else {
      ++alone;
      inflight_.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(alone));
      pending_.erase(pending_.begin(), alone);
    }
  }
  // Pass 0: what the write costs (as queued), and the messages sent compressed.
  for (auto& f : inflight_) {
    inflight_bytes_ += queue_cost(f.op, f.data->size());
    if (deflate_bits_ > 0 && (f.op == wsframe::text || f.op == wsframe::binary) && f.data->size() >= deflate_threshold_) {
      if (auto d = deflated(f.data, deflate_bits_)) {
        f.data = std::move(d);
        f.compressed = true;
      }
    }
  }
  // Pass 1: the contiguous part's size, so that pass 2 never moves it.
  std::size_t arena = 0;
  for (auto& f : inflight_)
    arena += wsframe::max_header_size + (f.data->size() <= copy_limit ? f.data->size() : 0);
  out_.clear();
  out_.reserve(arena);
  // Pass 2: frame. Chunks refer to `out_` by offset until it is complete.
  pieces_.clear();
  auto append_out = [&](const unsigned char* p, std::size_t n) {
    auto at = out_.size();
    out_.insert(out_.end(), p, p + n);
    if (!pieces_.empty() && pieces_.back().in_out)
      pieces_.back().size += n;
    else
      pieces_.push_back({true, at, n, nullptr});
  };
  for (auto& f : inflight_) {
    auto& d = *f.data;
    if (f.op != raw_bytes) {
      unsigned char header[wsframe::max_header_size];
      append_out(header, wsframe::write_header(f.op, d.size(), header, f.compressed));
    }
    if (d.size() <= copy_limit || f.op == raw_bytes)
      append_out(reinterpret_cast<const unsigned char*>(d.data()), d.size());
    else
      pieces_.push_back({false, 0, d.size(), &d});
    if (f.op == wsframe::close)
      close_taken_ = true;
  }
  chunks_.clear();
  for (auto& p : pieces_)
    chunks_.push_back({p.in_out ? static_cast<const void*>(out_.data() + p.offset) : p.data->data(), p.size});
  return true;
}

void ws_write_queue::written() {
  queued_.fetch_sub(inflight_bytes_, std::memory_order_relaxed);
  inflight_bytes_ = 0;
  inflight_.clear();
}

void ws_write_queue::release_buffers() {
  // An idle or dropped connection keeps no write buffers (called under mutex_ with
  // nothing pending and no write under way): one allocation per write costs less than
  // memory held by every idle client.
  std::vector<unsigned char>().swap(out_);
  std::vector<out_frame>().swap(inflight_);
  std::vector<out_frame>().swap(pending_);
  pieces_ = {};
  chunks_ = {};
}

} // namespace sio::http

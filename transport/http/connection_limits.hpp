// Counts the TCP connections the server holds, in total and per client address, and
// refuses those past the caps (max-connections, max-connections-per-address). Internal
// to transport/http. A connection holds a slot from accept until its socket closes;
// whichever way a session ends, releasing the slot is part of it, so the counts stay
// exact.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sio::http {

class connection_limits;

/// One admitted connection's place in the counts; released once (explicitly, or when
/// destroyed). Move-only.
class connection_slot {
public:
  connection_slot() = default;
  connection_slot(std::shared_ptr<connection_limits> limits, std::string key, std::string address);
  connection_slot(connection_slot&& other) noexcept = default;
  connection_slot& operator=(connection_slot&& other) noexcept;
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot() { release(); }

  void release();
  /// The client's address, as the logs name it.
  const std::string& address() const { return address_; }

private:
  std::shared_ptr<connection_limits> limits_; // null once released
  std::string key_;
  std::string address_;
};

class connection_limits : public std::enable_shared_from_this<connection_limits> {
public:
  /// Zero means no cap.
  connection_limits(std::size_t max_total, std::size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  enum class refusal { none, total, per_address };
  struct admission {
    refusal refused = refusal::none;
    connection_slot slot; // held by the session when admitted
  };
  /// Counts a new connection from `address` (as asio prints it) unless a cap is reached.
  admission admit(const std::string& address);

  std::size_t total() const;
  std::size_t from(const std::string& address) const;

  /// What an address counts under: the address itself, or for IPv6 its /64 prefix (one
  /// subscriber's network, whose addresses a client may pick at will).
  static std::string key_of(const std::string& address);

private:
  friend class connection_slot;
  void release(const std::string& key);

  const std::size_t max_total_;
  const std::size_t max_per_address_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_key_;
};

} // namespace sio::http

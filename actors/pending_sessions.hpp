// Sessions that have not completed a Socket.IO CONNECT yet, counted per client address and
// in total. A handshake costs the server an actor and the request's headers until the
// connect timeout ends it; without a cap, a flood of handshakes from one address holds
// all of them for that long. A place is a ticket: it is given back when the session's
// first namespace connects, or when its actor ends (the ticket's destruction).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sio {

class pending_sessions : public std::enable_shared_from_this<pending_sessions> {
public:
  enum class verdict { admitted, too_many_from_address, too_many };

  /// One session's place; destroying it gives the place back.
  class ticket {
  public:
    ticket(std::shared_ptr<pending_sessions> owner, std::string address)
        : owner_(std::move(owner)), address_(std::move(address)) {}
    ~ticket() { owner_->release(address_); }
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;

  private:
    std::shared_ptr<pending_sessions> owner_;
    std::string address_;
  };
  using ticket_ptr = std::shared_ptr<ticket>;

  /// 0 for either limit: none.
  pending_sessions(std::size_t max_per_address, std::size_t max_total)
      : max_per_address_(max_per_address), max_total_(max_total) {}

  /// A place for a new session from `address`, or nothing when a limit is reached
  /// (`why` says which). Must be called on a pending_sessions held by a shared_ptr.
  ticket_ptr admit(const std::string& address, verdict& why);

  std::size_t count() const;
  std::size_t count(const std::string& address) const;

private:
  void release(const std::string& address);

  const std::size_t max_per_address_;
  const std::size_t max_total_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> by_address_; // no entry at 0
};

} // namespace sio

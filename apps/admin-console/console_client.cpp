#include "apps/admin-console/console_client.hpp"

#include <csignal>
#include <chrono>
#include <optional>

namespace console {

namespace {

constexpr auto poll = std::chrono::milliseconds(100);

sio::console_answer failure(int status, const std::string& why) {
  return sio::console_answer{0, status, R"({"error":")" + why + "\"}"};
}

} // namespace

std::atomic<bool>& interrupted() {
  static std::atomic<bool> flag{false};
  return flag;
}

void catch_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { interrupted() = true; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

client::client(caf::actor_system& sys, caf::actor service, std::string token)
    : sys_(sys), service_(std::move(service)), token_(std::move(token)), self_(sys) {
  self_->monitor(service_);
}

sio::console_answer client::run(const std::vector<std::string>& words, std::chrono::milliseconds timeout) {
  auto id = next_id_++;
  self_->send(service_, sio::console_command{token_, id, words, caf::actor(self_)});
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<sio::console_answer> answer;
  bool down = false;
  while (!answer && !down && !interrupted() && std::chrono::steady_clock::now() < deadline) {
    self_->receive(
        [&](sio::console_answer& a) {
          if (a.id == id)
            answer = std::move(a); // an older command's late answer is dropped
        },
        [&](std::vector<sio::activity>&) {}, // a tail's last lines
        [&](caf::down_msg&) { down = true; },
        caf::after(poll) >> [] {});
  }
  if (answer)
    return *answer;
  if (down)
    return failure(sio::console_failed, "the server went away");
  if (interrupted())
    return failure(sio::console_failed, "interrupted");
  return failure(sio::console_failed, "no answer within the timeout");
}

int client::tail(const std::string& nsp, const std::string& event,
                 const std::function<void(const sio::activity&)>& print,
                 const std::function<void(const sio::console_answer&)>& started) {
  self_->send(service_, sio::console_tail{token_, nsp, event, caf::actor(self_)});
  int status = sio::console_ok;
  bool down = false, refused = false;
  while (!down && !refused && !interrupted()) {
    self_->receive([&](std::vector<sio::activity>& batch) {
                     for (auto& a : batch)
                       print(a);
                   },
                   [&](sio::console_answer& a) {
                     if (a.id != 0)
                       return;
                     started(a);
                     if (a.status != sio::console_ok) {
                       refused = true;
                       status = a.status;
                     }
                   },
                   [&](caf::down_msg&) { down = true; }, caf::after(poll) >> [] {});
  }
  if (down)
    return sio::console_failed;
  if (!refused)
    self_->send(service_, sio::console_untail{token_, caf::actor(self_)});
  return status;
}

} // namespace console

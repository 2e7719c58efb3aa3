#define CAF_SUITE ws_write_queue
#include <caf/test/unit_test_impl.hpp>

#include "transport/http/permessage_deflate.hpp"
#include "transport/http/ws_frame.hpp"
#include "transport/http/ws_write_queue.hpp"
#include "transport/http/zlib_stream.hpp"

#include <memory>
#include <string>
#include <vector>

using sio::http::ws_message;
using sio::http::ws_write_queue;
using send_result = ws_write_queue::send_result;
namespace wsframe = sio::http::wsframe;

namespace {

struct frame {
  std::uint8_t op;
  std::string payload;
};

ws_message text(std::string s) {
  return {false, std::make_shared<const std::string>(std::move(s))};
}

ws_message binary(std::string s) {
  return {true, std::make_shared<const std::string>(std::move(s))};
}

send_result push(ws_write_queue& q, ws_message m) {
  return q.push(&m, 1).result;
}

/// The bytes of the write take() prepared, in order.
std::string write_bytes(const ws_write_queue& q) {
  std::string out;
  for (auto& c : q.chunks())
    out.append(static_cast<const char*>(c.data), c.size);
  return out;
}

/// Server frames (unmasked, final) back from the bytes of a write.
std::vector<frame> frames_of(const std::string& bytes) {
  std::vector<frame> out;
  std::size_t at = 0;
  while (at < bytes.size()) {
    auto op = static_cast<std::uint8_t>(bytes[at] & 0x0F);
    std::uint64_t n = static_cast<unsigned char>(bytes[at + 1]) & 0x7F;
    at += 2;
    if (n == 126) {
      n = (static_cast<unsigned char>(bytes[at]) << 8) | static_cast<unsigned char>(bytes[at + 1]);
      at += 2;
    } else if (n == 127) {
      n = 0;
      for (int i = 0; i < 8; ++i)
        n = (n << 8) | static_cast<unsigned char>(bytes[at + i]);
      at += 8;
    }
    out.push_back({op, bytes.substr(at, n)});
    at += n;
  }
  return out;
}

} // namespace

CAF_TEST(frames_queued_apart_leave_in_one_write) {
  ws_write_queue q(1 << 20);
  auto first = text("a");
  CAF_CHECK(q.push(&first, 1).schedule); // the first push asks for a flush
  auto second = binary(std::string("\x01\x02", 2));
  CAF_CHECK(!q.push(&second, 1).schedule); // one is due already
  std::vector<ws_message> both{text("c"), text("d")};
  CAF_CHECK(!q.push(both.data(), both.size()).schedule);
  CAF_CHECK_EQUAL(q.queued_bytes(), 5u);
  CAF_REQUIRE(q.take());
  CAF_CHECK_EQUAL(q.chunks().size(), 1u); // small frames: one contiguous buffer
  auto frames = frames_of(write_bytes(q));
  CAF_REQUIRE_EQUAL(frames.size(), 4u);
  CAF_CHECK_EQUAL(frames[0].op, wsframe::text);
  CAF_CHECK_EQUAL(frames[0].payload, "a");
  CAF_CHECK_EQUAL(frames[1].op, wsframe::binary);
  CAF_CHECK_EQUAL(frames[1].payload, std::string("\x01\x02", 2));
  CAF_CHECK_EQUAL(frames[2].payload, "c");
  CAF_CHECK_EQUAL(frames[3].payload, "d");
  // Frames pushed during the write wait for the next one, and schedule nothing new.
  auto during = text("e");
  CAF_CHECK(!q.push(&during, 1).schedule);
  q.written();
  CAF_CHECK_EQUAL(q.queued_bytes(), 1u);
  CAF_REQUIRE(q.take());
  CAF_CHECK_EQUAL(frames_of(write_bytes(q)).size(), 1u);
  q.written();
  CAF_CHECK(!q.take()); // nothing left: the next push schedules again
  auto after = text("f");
  CAF_CHECK(q.push(&after, 1).schedule);
}

CAF_TEST(large_payloads_are_written_in_place) {
  ws_write_queue q(1 << 20);
  auto big = std::make_shared<const std::string>(ws_write_queue::copy_limit + 1, 'x');
  ws_message m{false, big};
  push(q, text("small"));
  q.push(&m, 1);
  push(q, text("tail"));
  CAF_REQUIRE(q.take());
  // header+small+header | big payload (not copied) | header+tail
  CAF_REQUIRE_EQUAL(q.chunks().size(), 3u);
  CAF_CHECK(q.chunks()[1].data == big->data());
  auto frames = frames_of(write_bytes(q));
  CAF_REQUIRE_EQUAL(frames.size(), 3u);
  CAF_CHECK_EQUAL(frames[1].payload, *big);
  CAF_CHECK_EQUAL(frames[2].payload, "tail");
}

CAF_TEST(over_the_cap_nothing_is_queued) {
  ws_write_queue q(100);
  CAF_CHECK_EQUAL(push(q, text(std::string(60, 'a'))), send_result::queued);
  CAF_CHECK_EQUAL(push(q, text(std::string(50, 'b'))), send_result::over_cap);
  // All or none: two messages that do not fit together are both refused.
  std::vector<ws_message> two{text(std::string(30, 'c')), text(std::string(30, 'd'))};
  CAF_CHECK_EQUAL(q.push(two.data(), two.size()).result, send_result::over_cap);
  CAF_CHECK_EQUAL(push(q, text(std::string(40, 'e'))), send_result::queued); // exactly at the cap
  CAF_CHECK_EQUAL(q.queued_bytes(), 100u);
  CAF_REQUIRE(q.take());
  CAF_CHECK_EQUAL(frames_of(write_bytes(q)).size(), 2u);
  // Bytes under way still count until written.
  CAF_CHECK_EQUAL(push(q, text("f")), send_result::over_cap);
  q.written();
  CAF_CHECK_EQUAL(q.queued_bytes(), 0u);
  // One message larger than the cap goes when nothing is queued: the cap bounds the backlog.
  CAF_CHECK_EQUAL(push(q, text(std::string(500, 'g'))), send_result::queued);
  CAF_CHECK_EQUAL(push(q, text("h")), send_result::over_cap);
}

CAF_TEST(pongs_count_against_the_cap) {
  const auto cost = ws_write_queue::control_overhead;
  ws_write_queue q(7 * cost + cost / 2);
  // Empty pongs add up: each costs its bookkeeping.
  for (int i = 0; i < 7; ++i)
    CAF_CHECK_EQUAL(q.push_control(wsframe::pong, {}).result, send_result::queued);
  CAF_CHECK_EQUAL(q.queued_bytes(), 7 * cost);
  CAF_CHECK_EQUAL(q.push_control(wsframe::pong, {}).result, send_result::over_cap);
  // Data and pongs share the one cap.
  CAF_CHECK_EQUAL(push(q, text(std::string(cost, 'x'))), send_result::over_cap);
  CAF_REQUIRE(q.take());
  auto frames = frames_of(write_bytes(q));
  CAF_CHECK_EQUAL(frames.size(), 7u);
  CAF_CHECK_EQUAL(frames[0].op, wsframe::pong);
  q.written();
  CAF_CHECK_EQUAL(q.queued_bytes(), 0u);
  // A pong's payload counts too.
  CAF_CHECK_EQUAL(push(q, text(std::string(7 * cost, 'y'))), send_result::queued);
  CAF_CHECK_EQUAL(q.push_control(wsframe::pong, "12345").result, send_result::over_cap);
}

CAF_TEST(close_goes_after_the_data_and_ends_the_queue) {
  ws_write_queue q(200);
  push(q, text(std::string(150, 'a')));
  push(q, binary("b"));
  // Over the cap, the close frame still goes (one per session), after what is queued.
  auto close = q.push_control(wsframe::close, wsframe::close_payload(1000, "bye"));
  CAF_CHECK_EQUAL(close.result, send_result::queued);
  CAF_CHECK_EQUAL(q.queued_bytes(), 151u + 5 + ws_write_queue::control_overhead);
  // Nothing after it: data, pongs, a second close.
  CAF_CHECK_EQUAL(push(q, text("late")), send_result::closed);
  CAF_CHECK_EQUAL(q.push_control(wsframe::pong, {}).result, send_result::closed);
  CAF_CHECK_EQUAL(q.push_control(wsframe::close, {}).result, send_result::closed);
  CAF_CHECK(!q.close_taken());
  CAF_REQUIRE(q.take());
  CAF_CHECK(q.close_taken());
  auto frames = frames_of(write_bytes(q));
  CAF_REQUIRE_EQUAL(frames.size(), 3u);
  CAF_CHECK_EQUAL(frames[0].op, wsframe::text);
  CAF_CHECK_EQUAL(frames[1].op, wsframe::binary);
  CAF_CHECK_EQUAL(frames[2].op, wsframe::close);
  CAF_CHECK_EQUAL(frames[2].payload, wsframe::close_payload(1000, "bye"));
  q.written();
  CAF_CHECK_EQUAL(q.queued_bytes(), 0u);
}

CAF_TEST(a_gone_session_takes_no_data_but_says_goodbye) {
  ws_write_queue q(1000);
  q.refuse_sends();
  CAF_CHECK_EQUAL(push(q, text("x")), send_result::closed);
  CAF_CHECK_EQUAL(q.push_control(wsframe::pong, {}).result, send_result::closed);
  CAF_CHECK_EQUAL(q.push_control(wsframe::close, wsframe::close_payload(1002, {})).result, send_result::queued);
  // Aborted: not even a close frame.
  ws_write_queue aborted(1000);
  aborted.refuse_all();
  CAF_CHECK_EQUAL(aborted.push_control(wsframe::close, {}).result, send_result::closed);
  CAF_CHECK_EQUAL(push(aborted, text("x")), send_result::closed);
}

CAF_TEST(drop_frees_what_is_queued) {
  ws_write_queue q(1 << 20);
  push(q, text(std::string(1000, 'a')));
  CAF_REQUIRE(q.take());
  push(q, text(std::string(500, 'b')));
  q.push_control(wsframe::pong, "p");
  q.drop();
  // What is queued is gone at once; the write under way counts until it ends.
  CAF_CHECK_EQUAL(q.queued_bytes(), 1000u);
  q.written();
  CAF_CHECK_EQUAL(q.queued_bytes(), 0u);
  CAF_CHECK(!q.take());
  CAF_CHECK_EQUAL(push(q, text("c")), send_result::closed);
  CAF_CHECK_EQUAL(q.push_control(wsframe::close, {}).result, send_result::closed);
  CAF_CHECK_EQUAL(q.queued_bytes(), 0u);
}

CAF_TEST(the_upgrade_answer_goes_first_and_costs_nothing) {
  ws_write_queue q(10);
  std::string answer = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
  CAF_CHECK(q.push_raw(answer).schedule);
  CAF_CHECK_EQUAL(q.queued_bytes(), 0u);
  CAF_CHECK_EQUAL(push(q, text("hi")), send_result::queued);
  CAF_REQUIRE(q.take());
  auto bytes = write_bytes(q);
  CAF_CHECK_EQUAL(bytes.substr(0, answer.size()), answer);
  auto frames = frames_of(bytes.substr(answer.size()));
  CAF_REQUIRE_EQUAL(frames.size(), 1u);
  CAF_CHECK_EQUAL(frames[0].payload, "hi");
}

CAF_TEST(deflate_compresses_big_messages_once_for_all_queues) {
  // Two clients with permessage-deflate (threshold 100) and one without get the same
  // broadcast strings.
  ws_write_queue a(1 << 20, 15, 100), b(1 << 20, 15, 100), plain(1 << 20);
  std::string big;
  while (big.size() < 5000)
    big += "42[\"message\",{\"room\":\"general\",\"text\":\"hello\"}]";
  std::string noise(500, '\0');
  for (std::size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<char>((i * 7919u + 13u) ^ (i >> 3) * 31u);
  auto shared_big = text(big);
  auto shared_noise = binary(noise);
  for (auto* q : {&a, &b, &plain}) {
    push(*q, shared_big);
    push(*q, text("4small"));
    push(*q, shared_noise);
    CAF_REQUIRE(q->take());
  }
  auto wa = write_bytes(a), wb = write_bytes(b), wp = write_bytes(plain);
  CAF_CHECK(wa == wb); // the same bytes for every client: no context takeover
  // The compressed frame: RSV1 + text, its payload inflates to the message.
  CAF_CHECK_EQUAL(static_cast<unsigned char>(wa[0]), 0xC1);
  auto frames = frames_of(wa);
  CAF_REQUIRE_EQUAL(frames.size(), 3u);
  CAF_CHECK(frames[0].payload.size() < big.size() / 5);
  std::string inflated;
  CAF_CHECK(sio::http::zlib::inflate_raw(frames[0].payload, sio::http::permessage_deflate::tail, 1 << 20, inflated)
            == sio::http::zlib::inflate_status::ok);
  CAF_CHECK(inflated == big);
  // Under the threshold, and incompressible: plain.
  CAF_CHECK_EQUAL(frames[1].payload, "4small");
  auto second = 2 + (frames[0].payload.size() < 126 ? 0 : frames[0].payload.size() <= 0xFFFF ? 2 : 8)
                + frames[0].payload.size();
  CAF_CHECK_EQUAL(static_cast<unsigned char>(wa[second]), 0x81);
  CAF_CHECK(frames[2].payload == noise);
  // Without the extension nothing is compressed.
  CAF_CHECK_EQUAL(static_cast<unsigned char>(wp[0]), 0x81);
  CAF_CHECK(frames_of(wp)[0].payload == big);
  // What the queue counts is what was queued, compressed or not.
  for (auto* q : {&a, &b, &plain}) {
    CAF_CHECK_EQUAL(q->queued_bytes(), big.size() + 6 + noise.size());
    q->written();
    CAF_CHECK_EQUAL(q->queued_bytes(), 0u);
  }
}

CAF_TEST(deflate_tells_strings_of_one_owner_apart) {
  // A broadcast's text and its attachments are aliasing pointers into one packet: each is
  // compressed on its own, never served another's result.
  struct packet {
    std::string text, first, second;
  };
  auto owner = std::make_shared<packet>();
  owner->text = std::string(3000, 't');
  owner->first = std::string(3000, 'a');
  owner->second = std::string(3000, 'b');
  std::shared_ptr<const std::string> t(owner, &owner->text), a(owner, &owner->first), b(owner, &owner->second);
  for (int round = 0; round < 2; ++round) { // the second round is served from the cache
    ws_write_queue q(1 << 20, 15, 100);
    q.push(std::vector<ws_message>{{false, t}, {true, a}, {true, b}}.data(), 3);
    CAF_REQUIRE(q.take());
    auto frames = frames_of(write_bytes(q));
    CAF_REQUIRE_EQUAL(frames.size(), 3u);
    const std::string* originals[] = {&owner->text, &owner->first, &owner->second};
    for (std::size_t i = 0; i < 3; ++i) {
      std::string inflated;
      CAF_CHECK(sio::http::zlib::inflate_raw(frames[i].payload, sio::http::permessage_deflate::tail, 1 << 20, inflated)
                == sio::http::zlib::inflate_status::ok);
      CAF_CHECK(inflated == *originals[i]);
    }
    q.written();
  }
}

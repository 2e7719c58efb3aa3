#define CAF_SUITE compression
#include <caf/test/unit_test_impl.hpp>

#include "transport/http/content_coding.hpp"
#include "transport/http/permessage_deflate.hpp"
#include "transport/http/zlib_stream.hpp"

#include <zlib.h>

#include <random>
#include <string>

namespace pmd = sio::http::permessage_deflate;
namespace cc = sio::http::content_coding;
namespace zs = sio::http::zlib;

namespace {

/// zlib's own one-shot inflate of a zlib- or gzip-format body (windowBits 15 + 32: both),
/// independent of the code under test.
std::string inflate_any(const std::string& in) {
  z_stream z{};
  CAF_REQUIRE(inflateInit2(&z, 15 + 32) == Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  CAF_CHECK_EQUAL(rc, Z_STREAM_END);
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  return out;
}

std::string text_of(std::size_t n) {
  std::string s;
  while (s.size() < n)
    s += "{\"event\":\"message\",\"room\":\"general\",\"text\":\"hello there\"},";
  s.resize(n);
  return s;
}

std::string random_bytes(std::size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

} // namespace

CAF_TEST(offers_accepted_and_answered_with_no_context_takeover) {
  auto a = pmd::accept("permessage-deflate; client_max_window_bits");
  CAF_REQUIRE(a);
  CAF_CHECK_EQUAL(a->window_bits, 15);
  CAF_CHECK_EQUAL(a->answer(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  CAF_CHECK(pmd::accept("PerMessage-Deflate"));
  CAF_CHECK(pmd::accept("permessage-deflate; server_no_context_takeover; client_no_context_takeover"));
  CAF_CHECK(pmd::accept("permessage-deflate; client_max_window_bits=10"));
  auto small = pmd::accept("permessage-deflate; server_max_window_bits=\"10\"");
  CAF_REQUIRE(small);
  CAF_CHECK_EQUAL(small->window_bits, 10);
  CAF_CHECK_EQUAL(small->answer(),
                  "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10");
  // Asked for the largest window: answered with it (§7.1.2.1), even though it is ours anyway.
  auto asked = pmd::accept("permessage-deflate; server_max_window_bits=15");
  CAF_REQUIRE(asked);
  CAF_CHECK_EQUAL(asked->answer(),
                  "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15");
  // Another extension first, then ours.
  CAF_CHECK(pmd::accept("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"));
}

CAF_TEST(offers_declined) {
  CAF_CHECK(!pmd::accept(""));
  CAF_CHECK(!pmd::accept("x-webkit-deflate-frame"));
  CAF_CHECK(!pmd::accept("permessage-deflate; unknown_param"));
  CAF_CHECK(!pmd::accept("permessage-deflate; server_no_context_takeover; server_no_context_takeover"));
  CAF_CHECK(!pmd::accept("permessage-deflate; server_max_window_bits=8")); // raw deflate cannot make 8
  CAF_CHECK(!pmd::accept("permessage-deflate; server_max_window_bits=16"));
  CAF_CHECK(!pmd::accept("permessage-deflate; server_max_window_bits"));
  CAF_CHECK(!pmd::accept("permessage-deflate; server_max_window_bits=010"));
  CAF_CHECK(!pmd::accept("permessage-deflate; client_max_window_bits=7"));
  CAF_CHECK(!pmd::accept("permessage-deflate; client_no_context_takeover=1"));
  // A declined offer, then an acceptable one: the second is taken.
  auto second = pmd::accept("permessage-deflate; server_max_window_bits=8, permessage-deflate");
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(second->window_bits, 15);
}

CAF_TEST(raw_deflate_round_trips_through_sync_flush) {
  for (auto bits : {15, 9}) {
    auto message = text_of(50000);
    auto wire = zs::deflate(message, zs::format::raw, true, bits);
    CAF_REQUIRE(wire.size() > 4);
    CAF_CHECK_EQUAL(wire.substr(wire.size() - 4), std::string(pmd::tail));
    wire.resize(wire.size() - 4);
    CAF_CHECK(wire.size() < message.size() / 10);
    std::string out;
    CAF_CHECK(zs::inflate_raw(wire, pmd::tail, 1000000, out) == zs::inflate_status::ok);
    CAF_CHECK(out == message);
    CAF_CHECK(out.capacity() < 2 * message.size()); // no oversized buffer carried along
    // The stream is reset: the next message does not refer back to this one.
    auto again = zs::deflate(message, zs::format::raw, true, bits);
    again.resize(again.size() - 4);
    CAF_CHECK(again == wire);
  }
  // Incompressible bytes come out larger: the queue then sends them plain.
  auto noise = random_bytes(8192);
  CAF_CHECK(zs::deflate(noise, zs::format::raw, true).size() > noise.size());
}

CAF_TEST(inflate_is_bounded_and_refuses_garbage) {
  // A bomb: 2 MB of zeros is a couple of KiB compressed.
  std::string zeros(2000000, '\0');
  auto bomb = zs::deflate(zeros, zs::format::raw, true);
  CAF_CHECK(bomb.size() < 5000);
  std::string out;
  CAF_CHECK(zs::inflate_raw(bomb, {}, 100000, out) == zs::inflate_status::too_big);
  CAF_CHECK(out.size() <= 100001u);
  // Exactly at the limit is fine; one byte more is not.
  auto exact = zs::deflate(std::string(100000, 'a'), zs::format::raw, true);
  CAF_CHECK(zs::inflate_raw(exact, {}, 100000, out) == zs::inflate_status::ok);
  CAF_CHECK_EQUAL(out.size(), 100000u);
  auto over = zs::deflate(std::string(100001, 'a'), zs::format::raw, true);
  CAF_CHECK(zs::inflate_raw(over, {}, 100000, out) == zs::inflate_status::too_big);
  // Not deflate data (block type 3 is invalid).
  CAF_CHECK(zs::inflate_raw(std::string("\xff\xff\xff\xff", 4), pmd::tail, 1000, out) == zs::inflate_status::bad_data);
  // The thread's inflater is usable after an error.
  auto hello = zs::deflate("hello", zs::format::raw, true);
  hello.resize(hello.size() - 4);
  std::string fresh;
  CAF_CHECK(zs::inflate_raw(hello, pmd::tail, 1000, fresh) == zs::inflate_status::ok);
  CAF_CHECK_EQUAL(fresh, "hello");
  CAF_CHECK(fresh.capacity() < 64); // a tiny message holds a tiny string, not 16 KiB
  // A final block (BFINAL) without the stripped tail is taken too.
  auto final_block = zs::deflate("hello", zs::format::raw, false);
  CAF_CHECK(zs::inflate_raw(final_block, pmd::tail, 1000, out) == zs::inflate_status::ok);
  CAF_CHECK_EQUAL(out, "hello");
}

CAF_TEST(accept_encoding_chooses_a_coding) {
  CAF_CHECK(cc::choose("") == cc::coding::identity);
  CAF_CHECK(cc::choose("identity") == cc::coding::identity);
  CAF_CHECK(cc::choose("gzip") == cc::coding::gzip);
  CAF_CHECK(cc::choose("deflate") == cc::coding::deflate);
  CAF_CHECK(cc::choose("deflate, gzip") == cc::coding::gzip); // a tie: gzip
  CAF_CHECK(cc::choose("gzip, deflate, br, zstd") == cc::coding::gzip);
  CAF_CHECK(cc::choose("gzip;q=0, deflate") == cc::coding::deflate);
  CAF_CHECK(cc::choose("gzip;q=0.5, deflate;q=0.8") == cc::coding::deflate);
  CAF_CHECK(cc::choose("GZIP ; Q=1") == cc::coding::gzip);
  CAF_CHECK(cc::choose("*") == cc::coding::gzip);
  CAF_CHECK(cc::choose("*;q=0") == cc::coding::identity);
  CAF_CHECK(cc::choose("gzip;q=0, deflate;q=0") == cc::coding::identity);
  CAF_CHECK(cc::choose("gzip;q=abc") == cc::coding::identity); // a malformed q: not acceptable
  CAF_CHECK(cc::choose("br") == cc::coding::identity);
  CAF_CHECK_EQUAL(cc::name(cc::coding::gzip), "gzip");
  CAF_CHECK_EQUAL(cc::name(cc::coding::deflate), "deflate");
}

CAF_TEST(http_bodies_decode_with_zlib) {
  auto body = text_of(20000);
  auto gz = cc::encode(body, cc::coding::gzip);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(gz[0]), 0x1f); // gzip magic
  CAF_CHECK_EQUAL(static_cast<unsigned char>(gz[1]), 0x8b);
  CAF_CHECK(inflate_any(gz) == body);
  auto zl = cc::encode(body, cc::coding::deflate);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(zl[0]), 0x78); // zlib header, 32 KiB window
  CAF_CHECK(inflate_any(zl) == body);
  CAF_CHECK(cc::encode(body, cc::coding::identity) == body);
}

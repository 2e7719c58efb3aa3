#include "transport/http/zlib_stream.hpp"

#include <zlib.h>

#include <array>
#include <memory>
#include <stdexcept>

namespace sio::http::zlib {

namespace {

struct deflater {
  z_stream z{};
  deflater(format f, int window_bits) {
    int bits = f == format::raw ? -window_bits : f == format::gzip ? window_bits + 16 : window_bits;
    // Level 6 and memLevel 8 are zlib's and ws's defaults.
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::bad_alloc();
  }
  ~deflater() { deflateEnd(&z); }
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;
};

struct inflater {
  z_stream z{};
  inflater() {
    if (inflateInit2(&z, -15) != Z_OK) // any window the peer used, up to the largest
      throw std::bad_alloc();
  }
  ~inflater() { inflateEnd(&z); }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
};

deflater& thread_deflater(format f, int window_bits) {
  // One per (format, window) and thread, made on first use: raw with the window a client
  // asked for (9..15), zlib and gzip with 15.
  thread_local std::array<std::unique_ptr<deflater>, 3 * 16> streams;
  auto& s = streams[static_cast<std::size_t>(f) * 16 + static_cast<std::size_t>(window_bits)];
  if (!s)
    s = std::make_unique<deflater>(f, window_bits);
  return *s;
}

/// Resets a thread's stream however its message ends (an exception included), so the
/// next message never continues this one.
template <int (*Reset)(z_streamp)>
struct reset_after {
  z_stream& z;
  ~reset_after() { Reset(&z); }
};

} // namespace

std::string deflate(std::string_view in, format f, bool sync_flush, int window_bits) {
  if (window_bits < 9 || window_bits > 15)
    window_bits = 15;
  auto& d = thread_deflater(f, window_bits);
  reset_after<deflateReset> guard{d.z};
  std::string out;
  out.resize(deflateBound(&d.z, in.size()) + 16);
  d.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  d.z.avail_in = static_cast<uInt>(in.size());
  std::size_t made = 0;
  for (;;) {
    d.z.next_out = reinterpret_cast<Bytef*>(out.data() + made);
    d.z.avail_out = static_cast<uInt>(out.size() - made);
    int rc = ::deflate(&d.z, sync_flush ? Z_SYNC_FLUSH : Z_FINISH);
    made = out.size() - d.z.avail_out;
    if (rc == Z_STREAM_END || (sync_flush && rc == Z_OK && d.z.avail_out > 0))
      break;
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      throw std::runtime_error("deflate failed");
    out.resize(out.size() * 2); // only when deflateBound was not enough (a sync flush)
  }
  out.resize(made);
  return out;
}

inflate_status inflate_raw(std::string_view in, std::string_view tail, std::size_t max_out, std::string& out) {
  // Inflated into the thread's scratch and appended: `out` holds what was made and no
  // more (a tiny message does not carry a 16 KiB buffer along to the application).
  thread_local inflater inf;
  thread_local std::unique_ptr<unsigned char[]> scratch(new unsigned char[16 * 1024]);
  constexpr std::size_t step = 16 * 1024;
  auto& z = inf.z;
  reset_after<inflateReset> guard{z};
  out.clear();
  for (auto part : {in, tail}) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z.avail_in = static_cast<uInt>(part.size());
    while (z.avail_in > 0) {
      // One byte past the limit tells "exactly max_out" from "more".
      auto room = std::min(step, max_out + 1 - out.size());
      z.next_out = scratch.get();
      z.avail_out = static_cast<uInt>(room);
      int rc = ::inflate(&z, Z_SYNC_FLUSH);
      auto made = room - z.avail_out;
      out.append(reinterpret_cast<const char*>(scratch.get()), made);
      if (out.size() > max_out)
        return inflate_status::too_big;
      if (rc == Z_STREAM_END)
        break; // a final block: what follows it is ignored
      if (rc == Z_BUF_ERROR && made == 0)
        break; // nothing more to make from this input
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return inflate_status::bad_data;
    }
  }
  return inflate_status::ok;
}

} // namespace sio::http::zlib

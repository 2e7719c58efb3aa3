// loadgen: a Socket.IO v5 / Engine.IO v4 load generator over WebSocket, for chat-server
// and the Node reference server (bench/reference/server.js).
//
// Scenarios (--scenario):
//   fanout   C clients on the namespace; S senders emit send-message and every client
//            receives receive-message: deliveries/s and latency.
//   rooms    C clients over R rooms (client i in conv-<i % R>); senders emit sendMessage
//            and the room receives receiveMessage.
//   connect  C connections through the whole handshake as fast as the connect window
//            allows: connects/s and the server's memory per connection.
//   ack      C clients each doing sequential ping round trips answered by an ack.
//
// Message scenarios measure for --duration seconds after --warmup (an idle period after
// everyone connected, extended until the connect broadcasts have drained). With
// --server-pid, the server's CPU time and RSS come from /proc (RSS at the start and the end
// of the window, and its maximum sampled every 250 ms). Progress goes to stderr; the figures
// to stdout as one JSON line.
//
// --count-writes (fanout, rooms; with --server-pid): `perf stat` counts the server's
// syscalls that can write to a socket during the window: frames per write = deliveries /
// writes, the figure that sets the kernel's cost per delivery (bench/floor).
//
// --slow-clients K (fanout, rooms): from the start of the window the last K clients (never
// senders) stop reading their sockets, like stuck mobile clients: no reads, no pongs, the
// TCP connection left open. Their deliveries are left out of every figure. At the end of
// the window each one reads again, draining what the kernel buffered (until EOF, an error
// or slow_drain_limit); an EOF, a reset or a WebSocket close frame met on the way counts
// as closed by the server (slow_closed_by_server).
//
// --deflate: the upgrade offers permessage-deflate (RFC 7692); messages the server sends
// compressed (RSV1) are inflated (one raw inflater per worker thread, reset per message:
// the server takes no context) before they are handled like any other. The client sends
// uncompressed, as the extension allows. The figures count the compressed messages.
// Inflating is a pure function of the message's bytes, and a broadcast reaches every client
// of a worker as the same bytes: each worker keeps the recent distinct messages it inflated
// with their text (256, direct-mapped by hash), so that the load generator's one core does
// not become the bottleneck (zlib takes ~4 µs for a 1 KiB message; --inflate-all inflates
// every one).
// --text-fill: the filler of --text-bytes, which sets how well messages compress: x (one
// letter repeated, ~8x), words (random common words, like prose), random (random letters
// and digits, hardly compressible).
//
// --tls: every connection is TLS (OpenSSL through asio::ssl::stream over the same TCP
// socket, no certificate verification), the upgrade request included. A plain run reads
// and writes the socket directly, as before: one test of the connection's stream per read
// and per write is all the plain path pays.
//
// Why not Beast's websocket::stream: it hands over one message per async_read (one
// completion handler and a buffer copy per frame) and validates UTF-8 byte by byte. A load
// generator reading thousands of sockets on one thread needs to parse every frame one
// read brought in, in place, with no per-frame allocation; hence the few lines of
// RFC 6455 framing below, on plain Asio TCP sockets.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace po = boost::program_options;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

// -- constants ----------------------------------------------------------------

constexpr std::size_t initial_read_buffer = 4 * 1024;
constexpr std::size_t max_upgrade_response = 64 * 1024;
constexpr std::uint64_t max_frame_payload = 64ull * 1024 * 1024;
constexpr std::size_t default_clients = 100;
constexpr std::size_t default_fanout_senders = 4;
constexpr double default_connect_deadline_s = 60; // every client connected within this (--connect-timeout)
constexpr auto connect_hold_idle = 2s;   // connect scenario: idle before the RSS sample
constexpr auto drain_limit = 1s;         // after the window: wait for messages in flight
constexpr auto drain_quiet = 100ms;      // ... until nothing arrived for this long
constexpr auto warmup_quiet = 200ms;     // warmup ends once nothing arrived for this long
constexpr auto warmup_quiet_limit = 30s; // ... or after this much extra waiting
constexpr auto poll_interval = 5ms;      // the controller's polling of the counters
constexpr auto progress_interval = 1s;
constexpr auto rss_sample_interval = 250ms;     // server RSS during the measurement window
constexpr auto slow_drain_limit = 2s;           // --slow-clients: draining after the window
constexpr std::size_t slow_drain_buffer = 64 * 1024;
constexpr int slow_receive_buffer = 4096;         // --slow-clients: SO_RCVBUF before connecting
constexpr int max_logged_failures = 5;          // per worker, on stderr
constexpr std::size_t logged_frame_chars = 300; // --verbose: first frame of each event name
constexpr std::uint64_t join_ack_id = 1;
constexpr std::string_view websocket_key = "dGhlIHNhbXBsZSBub25jZQ==";
// --deflate: the offer, and the tail a permessage-deflate sender strips from each message.
constexpr std::string_view deflate_offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
constexpr unsigned char deflate_tail[4] = {0x00, 0x00, 0xff, 0xff};
constexpr std::size_t initial_inflate_buffer = 16 * 1024;
// Distinct messages a worker keeps inflated: more than the broadcasts in flight at once
// (senders x window), as each client's read brings in all of them.
constexpr std::size_t inflate_cache_entries = 256;
constexpr std::string_view stamp_marker = "\"t:"; // "t:<ns>[:s<sender>]" in the text

// WebSocket opcodes (RFC 6455 §5.2).
enum opcode : unsigned { op_continuation = 0, op_text = 1, op_close = 8, op_ping = 9, op_pong = 10 };

enum class scenario { fanout, rooms, connect, ack };

struct options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string path = "/socket.io/";
  std::string nsp = "/";
  std::string scenario_name = "fanout";
  std::size_t clients = 0; // 0: scenario default
  std::size_t senders = 0; // 0: scenario default
  std::size_t rooms = 10;
  double rate = 0; // messages/s per sender; 0: window flow control
  std::size_t window = 2;
  double duration = 5;
  double warmup = 1;
  std::size_t connect_window = 200;
  std::size_t threads = 1;
  std::size_t slow_clients = 0; // the last K clients stop reading during the window
  int server_pid = 0;
  /// A cluster: client i connects to ports[i % n]; CPU and RSS are summed over server_pids.
  std::string ports_list;
  std::string server_pids_list;
  std::vector<std::uint16_t> ports;
  std::vector<int> server_pids;
  double timeout = 120;
  double connect_timeout = default_connect_deadline_s; // seconds for every client to connect
  std::size_t text_bytes = 0;                           // filler appended to each message's text
  std::string text_fill = "x";                          // x, words or random
  bool inflate_all = false;                             // --deflate: no cache of inflated messages
  bool count_writes = false;                            // perf stat the server's write syscalls
  bool deflate = false;                                 // offer permessage-deflate, inflate RSV1 messages
  bool tls = false;                                     // TLS on every connection
  bool verbose = false;
  // derived
  scenario kind = scenario::fanout;
  std::string nsp_prefix; // "" for "/", else "/nsp," as in Socket.IO packets
  std::string filler;     // text_bytes of text_fill
};
options opts; // the one global: set by main before any thread starts, then read-only

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

steady::time_point from_ns(std::int64_t ns) {
  return steady::time_point(std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The decimal number at the start of s, and how many digits it had (0: none).
std::pair<std::uint64_t, std::size_t> leading_number(std::string_view s) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc())
    return {0, 0};
  return {value, static_cast<std::size_t>(end - s.data())};
}

void append_number(std::string& s, std::uint64_t v) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  s.append(digits, end);
}

// The event whose frames count as deliveries ("" for none).
std::string_view delivery_prefix() {
  switch (opts.kind) {
  case scenario::fanout:
    return "[\"receive-message\"";
  case scenario::rooms:
    return "[\"receiveMessage\"";
  default:
    return {};
  }
}

// -- latency histogram ----------------------------------------------------------

// Log-linear histogram of microseconds (HDR-like): exact below 1024 µs, then 512
// sub-buckets per power of two (0.2 % resolution) up to 2^64. Fixed size, so recording a
// sample never allocates.
class histogram {
public:
  void record(std::uint64_t us) {
    ++counts_[index_of(us)];
    ++total_;
    max_ = std::max(max_, us);
  }

  void merge(const histogram& other) {
    for (std::size_t i = 0; i < bucket_count; ++i)
      counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }

  std::uint64_t total() const { return total_; }
  std::uint64_t max() const { return max_; }

  std::uint64_t percentile(double q) const {
    if (total_ == 0)
      return 0;
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank)
        return std::min(value_of(i), max_);
    }
    return max_;
  }

private:
  static constexpr unsigned linear_bits = 10;
  static constexpr std::uint64_t linear = 1u << linear_bits; // exact values below this
  static constexpr std::uint64_t half = linear / 2;          // sub-buckets per octave
  static constexpr std::size_t bucket_count = linear + (64 - linear_bits) * half;

  static std::size_t index_of(std::uint64_t v) {
    if (v < linear)
      return v;
    const unsigned msb = 63 - __builtin_clzll(v);
    const unsigned shift = msb - (linear_bits - 1); // v >> shift is in [half, linear)
    return linear + (shift - 1) * half + ((v >> shift) - half);
  }

  static std::uint64_t value_of(std::size_t i) { // the middle of bucket i
    if (i < linear)
      return i;
    const unsigned shift = static_cast<unsigned>((i - linear) / half + 1);
    const std::uint64_t low = ((i - linear) % half + half) << shift;
    return low + ((std::uint64_t{1} << shift) >> 1);
  }

  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// -- per-worker counters ----------------------------------------------------------

// Written by one worker thread, read by the controller while running.
struct counters {
  std::atomic<std::uint64_t> connected{0}, failed{0}, dropped{0}, errors{0}, frames{0};
  std::atomic<std::uint64_t> delivered{0}, delivered_in_window{0}, sent{0}, sent_in_window{0};
  std::atomic<std::int64_t> last_ready_ns{0};
  // --slow-clients: stopped reading at t0, done draining after t1, closed by the server.
  std::atomic<std::uint64_t> slow_paused{0}, slow_done{0}, slow_closed{0};
  // --deflate: connections whose 101 accepted the extension; messages that came compressed
  // (RSV1), their bytes on the wire and inflated (the whole run, warmup included).
  std::atomic<std::uint64_t> deflate_accepted{0}, compressed{0}, compressed_bytes{0}, inflated_bytes{0};
  std::atomic<std::uint64_t> inflated{0}; // of them, inflated by zlib (the rest: from the cache)
};

void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// One writer: a plain load and store, no locked read-modify-write.
void bump(std::atomic<std::uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// -- worker and connection ------------------------------------------------------

class connection;

// One io_context run by one thread, with its share of the clients.
class worker {
public:
  worker(std::vector<tcp::endpoint> servers, std::size_t connect_window);
  ~worker();

  void add_client(std::size_t index);
  void start() {
    thread_ = std::thread([this] { ctx_.run(); });
  }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

  // Posted by the controller onto the worker's thread.
  void begin_connecting();
  void begin_sending(std::int64_t t0, std::int64_t t1);
  void end_sending();
  void begin_slow_drain();
  void close_all();

  // Called by this worker's connections, on its thread.
  void handshake_finished(bool ok, std::string_view why);
  void connection_dropped(std::size_t index, std::string_view why);
  void record_delivery(std::int64_t sent_ns, std::int64_t now);
  void record_send(std::int64_t now);
  void note_error(std::string_view frame);
  void log_unexpected(std::string_view body);
  void slow_client_finished(bool closed_by_server);
  std::string& scratch() { return scratch_; }
  asio::io_context& context() { return ctx_; }
  /// --tls: the client context of this worker's connections.
  asio::ssl::context& tls_context() { return *tls_context_; }
  /// --deflate: one permessage-deflate message inflated into a buffer of this worker's,
  /// valid until the next call; nothing if it is not valid deflate data.
  std::optional<std::string_view> inflate(std::string_view compressed);
  std::optional<std::string_view> inflate_with_zlib(std::string_view compressed);
  /// The node client `index` connects to (one node unless --ports names several).
  const tcp::endpoint& server(std::size_t index) const { return servers_[index % servers_.size()]; }

  std::string first_error() const {
    std::lock_guard lock(error_mutex_);
    return first_error_;
  }

  counters stats;
  histogram latencies; // read only after join()

private:
  void connect_more();
  void remember_error(std::string_view why);

  asio::io_context ctx_; // declared first: destroyed after the sockets
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::optional<asio::ssl::context> tls_context_; // --tls
  z_stream inflater_{};                          // --deflate: raw inflate, reset per message
  bool inflater_ready_ = false;
  std::string inflated_;
  struct inflated_message {
    std::string compressed, text;
    bool valid = false;
  };
  std::vector<inflated_message> inflate_cache_; // direct-mapped by a hash of the compressed bytes
  std::vector<tcp::endpoint> servers_;
  std::vector<std::unique_ptr<connection>> connections_;
  std::size_t next_to_connect_ = 0;
  std::size_t handshakes_in_flight_ = 0;
  std::size_t connect_window_;
  std::int64_t window_start_ = 0, window_end_ = 0; // the measurement window, ns
  std::optional<asio::steady_timer> slow_drain_timer_;
  std::string scratch_;                            // builds outgoing payloads
  int logged_failures_ = 0;
  std::set<std::string> logged_events_; // --verbose
  mutable std::mutex error_mutex_;
  std::string first_error_;
  std::thread thread_;
};

// One Socket.IO client: TCP connect, WebSocket upgrade, Engine.IO open, namespace connect
// (and for rooms, the join), then the scenario's sending and receiving.
class connection {
public:
  connection(worker& w, std::size_t index);

  std::size_t index() const { return index_; }
  void start();
  void start_sending(std::int64_t first_send_ns);
  void stop_sending();
  void close();
  // --slow-clients
  void pause_reading();
  void start_slow_drain();
  void end_slow_drain(); // the drain's time is up

private:
  enum class state { connecting, upgrading, opening, joining_namespace, joining_room, ready, closed };

  // reading
  void read_more();
  void on_read(const error_code& ec, std::size_t n);
  void take_upgrade_response();
  void take_frames(std::int64_t now);
  void on_frame(bool fin, unsigned op, std::string_view payload, std::int64_t now);
  void on_compressed_frame(bool fin, unsigned op, std::string_view payload, std::int64_t now);
  void on_connected();
  void on_text(std::string_view text, std::int64_t now);
  void on_socketio(std::string_view packet, std::int64_t now);
  void on_event(std::string_view rest, std::int64_t now);
  void on_ack(std::uint64_t id, std::int64_t now);
  void on_delivery(std::string_view body, std::int64_t now);
  void namespace_connected();
  void became_ready();
  void lost(std::string_view why);
  void on_slow_read(const error_code& ec, std::size_t n);
  void finish_slow(bool closed_by_server);

  // writing
  void send_frame(unsigned op, std::string_view payload);
  void flush();

  // the scenario's traffic
  std::string& begin_event(); // scratch holding "42" + namespace prefix
  void send_benchmark_message();
  void send_ping();
  void fill_window();
  void arm_rate_timer();

  worker& worker_;
  std::size_t index_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_; // --tls: over socket_ (a pointer: plain connections stay small)
  state state_ = state::connecting;
  bool closing_ = false; // closed by us at the end: errors from now on are expected
  bool reading_ = false; // an async_read_some in flight

  // --slow-clients: not reading from t0 (paused), reading again after t1 (draining)
  // only to see whether the server closed the connection.
  enum class slow { no, paused, draining, done };
  slow slow_ = slow::no;

  std::vector<char> in_; // bytes read, frames parsed in place from head_ to tail_
  std::size_t head_ = 0, tail_ = 0;
  std::string fragment_; // a fragmented text message (rare)
  bool in_fragment_ = false;
  bool fragment_compressed_ = false; // --deflate: its first frame had RSV1
  std::string out_queued_, out_writing_; // one async_write in flight, the rest queued
  bool writing_ = false;
  std::array<unsigned char, 4> mask_{};

  bool sending_ = false;
  std::size_t in_flight_ = 0;               // own messages not yet received back
  std::optional<asio::steady_timer> timer_; // --rate senders only
  std::int64_t next_send_ns_ = 0;
  std::uint64_t next_ack_id_ = 1; // ack scenario
  std::uint64_t awaited_ack_ = 0; // 0: none
  std::int64_t ack_sent_ns_ = 0;
};

// -- connection: handshake and reading --------------------------------------------

connection::connection(worker& w, std::size_t index)
    : worker_(w), index_(index), socket_(w.context()), in_(initial_read_buffer) {
  // Clients must mask (RFC 6455 §5.3); a fixed key per connection is all a test needs.
  const std::uint32_t key = static_cast<std::uint32_t>(index * 2654435761u) ^ 0x5a17c3e9u;
  std::memcpy(mask_.data(), &key, sizeof key);
}

void connection::start() {
  if (opts.slow_clients > 0 && index_ >= opts.clients - opts.slow_clients) {
    // A stuck client with a small receive window (a phone behind a bad link): the kernel
    // holds little for it, so what the server queues shows up in the server's own cap.
    error_code ignored;
    socket_.open(tcp::v4(), ignored);
    socket_.set_option(asio::socket_base::receive_buffer_size(slow_receive_buffer), ignored);
  }
  socket_.async_connect(worker_.server(index_), [this](const error_code& ec) {
    if (closing_)
      return;
    if (ec)
      return lost("connect: " + ec.message());
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    if (!opts.tls)
      return on_connected();
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, worker_.tls_context());
    tls_->async_handshake(asio::ssl::stream_base::client, [this](const error_code& ec) {
      if (closing_)
        return;
      if (ec)
        return lost("TLS handshake: " + ec.message());
      on_connected();
    });
  });
}

// TCP connected (and with --tls, the TLS handshake done): the WebSocket upgrade.
void connection::on_connected() {
  state_ = state::upgrading;
  out_queued_ += "GET " + opts.path + "?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + opts.host + ":"
                 + std::to_string(worker_.server(index_).port()) + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  out_queued_ += websocket_key;
  out_queued_ += "\r\nSec-WebSocket-Version: 13\r\n";
  if (opts.deflate)
    out_queued_ += deflate_offer;
  out_queued_ += "\r\n";
  flush();
  read_more();
}

void connection::read_more() {
  if (tail_ == in_.size())
    in_.resize(in_.size() * 2);
  reading_ = true;
  const auto into = asio::buffer(in_.data() + tail_, in_.size() - tail_);
  auto done = [this](const error_code& ec, std::size_t n) { on_read(ec, n); };
  if (tls_)
    tls_->async_read_some(into, std::move(done));
  else
    socket_.async_read_some(into, std::move(done));
}

void connection::on_read(const error_code& ec, std::size_t n) {
  reading_ = false;
  if (closing_ || state_ == state::closed)
    return;
  if (slow_ != slow::no)
    return on_slow_read(ec, n);
  if (ec)
    return lost(ec == asio::error::eof ? "closed by the server" : ec.message());
  tail_ += n;
  const std::int64_t now = now_ns(); // one arrival time for every frame of this read
  if (state_ == state::upgrading)
    take_upgrade_response();
  if (state_ != state::upgrading)
    take_frames(now);
  if (state_ != state::closed)
    read_more();
}

// Waits for the whole HTTP response header; bytes after it are already WebSocket frames.
void connection::take_upgrade_response() {
  const std::string_view got(in_.data(), tail_);
  const auto end = got.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (tail_ >= max_upgrade_response)
      lost("upgrade response too large");
    return;
  }
  if (!starts_with(got, "HTTP/1.1 101")) {
    return lost("upgrade refused: " + std::string(got.substr(0, got.find("\r\n"))));
  }
  if (opts.deflate && got.substr(0, end).find("permessage-deflate") != std::string_view::npos)
    bump(worker_.stats.deflate_accepted);
  head_ = end + 4;
  state_ = state::opening;
}

// Parses every complete frame in the buffer in place; keeps a partial one for the next read.
void connection::take_frames(std::int64_t now) {
  std::size_t needed = 0; // size of a partial frame that does not fit the buffer yet
  while (state_ != state::closed) {
    const std::size_t available = tail_ - head_;
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data() + head_);
    if (available < 2)
      break;
    std::uint64_t length = b[1] & 0x7f;
    std::size_t header = 2;
    if (length == 126) {
      if (available < 4)
        break;
      length = (std::uint64_t{b[2]} << 8) | b[3];
      header = 4;
    } else if (length == 127) {
      if (available < 10)
        break;
      length = 0;
      for (int i = 2; i < 10; ++i)
        length = (length << 8) | b[i];
      header = 10;
    }
    const bool masked = (b[1] & 0x80) != 0; // servers do not mask, but tolerate it
    if (masked)
      header += 4;
    if (length > max_frame_payload)
      return lost("frame too large");
    if (available < header + length) {
      needed = header + length;
      break;
    }
    char* payload = in_.data() + head_ + header;
    if (masked) {
      const char* key = payload - 4;
      for (std::size_t i = 0; i < length; ++i)
        payload[i] ^= key[i % 4];
    }
    head_ += header + length;
    if (b[0] & 0x40) // RSV1: a permessage-deflate message
      on_compressed_frame((b[0] & 0x80) != 0, b[0] & 0x0f, std::string_view(payload, length), now);
    else
      on_frame((b[0] & 0x80) != 0, b[0] & 0x0f, std::string_view(payload, length), now);
  }
  if (state_ == state::closed)
    return;
  if (head_ == tail_) {
    head_ = tail_ = 0;
  } else if (head_ > 0) {
    std::memmove(in_.data(), in_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  if (needed > in_.size())
    in_.resize(std::max(needed, in_.size() * 2));
}

void connection::on_frame(bool fin, unsigned op, std::string_view payload, std::int64_t now) {
  if (slow_ != slow::no) { // draining a slow client: only a close matters
    if (op == op_close)
      finish_slow(true);
    return;
  }
  bump(worker_.stats.frames);
  switch (op) {
  case op_text:
    if (fin)
      return on_text(payload, now);
    fragment_.assign(payload);
    in_fragment_ = true;
    fragment_compressed_ = false;
    return;
  case op_continuation:
    if (!in_fragment_)
      return; // the rest of a binary message: not used by Engine.IO v4
    fragment_.append(payload);
    if (fin) {
      in_fragment_ = false;
      if (!fragment_compressed_)
        return on_text(fragment_, now);
      const auto text = worker_.inflate(fragment_);
      if (!text)
        return lost("permessage-deflate: the server's message does not inflate");
      on_text(*text, now);
    }
    return;
  case op_close:
    return lost("WebSocket close from the server");
  case op_ping:
    return send_frame(op_pong, payload);
  default:
    return; // pong, binary
  }
}

// A frame with RSV1: the first (or only) frame of a compressed message (RFC 7692 §6).
void connection::on_compressed_frame(bool fin, unsigned op, std::string_view payload, std::int64_t now) {
  if (slow_ != slow::no || op != op_text) // a slow client's drain, a binary message: not read
    return on_frame(fin, op, payload, now);
  bump(worker_.stats.compressed);
  add(worker_.stats.compressed_bytes, payload.size());
  if (!fin) { // inflated once the last fragment is in
    bump(worker_.stats.frames);
    fragment_.assign(payload);
    in_fragment_ = true;
    fragment_compressed_ = true;
    return;
  }
  const auto text = worker_.inflate(payload);
  if (!text)
    return lost("permessage-deflate: the server's message does not inflate");
  on_frame(true, op, *text, now);
}

// One Engine.IO packet.
void connection::on_text(std::string_view text, std::int64_t now) {
  if (text.empty())
    return;
  switch (text[0]) {
  case '0': // open: connect to the namespace
    if (state_ == state::opening) {
      state_ = state::joining_namespace;
      std::string& connect = worker_.scratch();
      connect.assign("40");
      connect += opts.nsp_prefix;
      send_frame(op_text, connect);
    }
    return;
  case '1':
    return lost("Engine.IO close from the server");
  case '2': { // ping: answer pong with the same data
    std::string& pong = worker_.scratch();
    pong.assign("3");
    pong += text.substr(1);
    return send_frame(op_text, pong);
  }
  case '4':
    return on_socketio(text.substr(1), now);
  default:
    return; // pong, noop
  }
}

// One Socket.IO packet: type digit, "/nsp," unless the namespace is "/", then the rest.
void connection::on_socketio(std::string_view packet, std::int64_t now) {
  if (packet.empty())
    return;
  const char type = packet[0];
  std::string_view rest = packet.substr(1);
  if (opts.nsp_prefix.empty()) {
    if (!rest.empty() && rest[0] == '/')
      return; // another namespace
  } else {
    if (!starts_with(rest, opts.nsp_prefix))
      return;
    rest.remove_prefix(opts.nsp_prefix.size());
  }
  switch (type) {
  case '0':
    if (state_ == state::joining_namespace)
      namespace_connected();
    return;
  case '1':
    return lost("Socket.IO disconnect from the server");
  case '2':
    return on_event(rest, now);
  case '3': {
    const auto [id, digits] = leading_number(rest);
    if (digits > 0)
      on_ack(id, now);
    return;
  }
  case '4':
    return lost("connect_error: " + std::string(rest));
  default:
    return;
  }
}

// An event: optional ack id digits, then the JSON array; only prefixes are looked at.
void connection::on_event(std::string_view rest, std::int64_t now) {
  const std::string_view body = rest.substr(leading_number(rest).second);
  const std::string_view delivery = delivery_prefix();
  if (!delivery.empty() && starts_with(body, delivery))
    return on_delivery(body, now);
  if (starts_with(body, "[\"error\"") || starts_with(body, "[\"messageError\"")) {
    return worker_.note_error(body);
  }
  if (opts.verbose)
    worker_.log_unexpected(body);
}

void connection::on_delivery(std::string_view body, std::int64_t now) {
  const auto at = body.find(stamp_marker);
  if (at == std::string_view::npos)
    return worker_.note_error(body);
  std::string_view stamp = body.substr(at + stamp_marker.size());
  const auto [sent_ns, digits] = leading_number(stamp);
  worker_.record_delivery(static_cast<std::int64_t>(sent_ns), now);
  stamp.remove_prefix(digits);
  if (!starts_with(stamp, ":s"))
    return;
  const auto [sender, sender_digits] = leading_number(stamp.substr(2));
  if (sender_digits == 0 || sender != index_)
    return;
  // Our own message came back: it is no longer in flight.
  if (in_flight_ > 0)
    --in_flight_;
  if (opts.rate <= 0)
    fill_window();
}

void connection::on_ack(std::uint64_t id, std::int64_t now) {
  if (state_ == state::joining_room && id == join_ack_id)
    return became_ready();
  if (opts.kind != scenario::ack || id != awaited_ack_)
    return;
  awaited_ack_ = 0;
  worker_.record_delivery(ack_sent_ns_, now);
  if (sending_)
    send_ping();
}

void connection::namespace_connected() {
  if (opts.kind != scenario::rooms)
    return became_ready();
  state_ = state::joining_room;
  std::string& join = begin_event();
  append_number(join, join_ack_id);
  join += "[\"joinRoom\",\"conv-";
  append_number(join, index_ % opts.rooms);
  join += "\"]";
  send_frame(op_text, join);
}

void connection::became_ready() {
  state_ = state::ready;
  worker_.handshake_finished(true, {});
}

// The connection ended without us closing it: a failed handshake, or a dropped connection.
void connection::lost(std::string_view why) {
  if (closing_ || state_ == state::closed)
    return;
  if (slow_ != slow::no) // a write failing on a slow client: the server is gone
    return finish_slow(true);
  const bool was_ready = state_ == state::ready;
  state_ = state::closed;
  stop_sending();
  error_code ignored;
  socket_.close(ignored);
  if (was_ready) {
    worker_.connection_dropped(index_, why);
  } else {
    worker_.handshake_finished(false, why);
  }
}

void connection::close() {
  closing_ = true;
  stop_sending();
  state_ = state::closed;
  error_code ignored;
  socket_.close(ignored);
}

// -- connection: slow clients (--slow-clients) -------------------------------------

// At t0: no more reads. The read in flight is cancelled (socket cancel() also aborts a
// write, so with one in flight the read is left to complete once; its bytes stay unparsed
// in the buffer). Nothing is parsed from now on, so pings go unanswered.
void connection::pause_reading() {
  if (state_ != state::ready || slow_ != slow::no)
    return;
  slow_ = slow::paused;
  bump(worker_.stats.slow_paused);
  if (reading_ && !writing_) {
    error_code ignored;
    socket_.cancel(ignored);
  }
}

// A read completing on a slow client: while paused, its bytes are kept and no read follows;
// while draining, every frame is parsed (looking for a close) and the next read follows.
void connection::on_slow_read(const error_code& ec, std::size_t n) {
  if (slow_ == slow::done)
    return;
  if (ec == asio::error::operation_aborted)
    return; // paused: our cancel; draining: end_slow_drain already finished it
  if (ec)
    return finish_slow(true); // EOF, reset: closed by the server
  tail_ += n;
  if (slow_ != slow::draining)
    return;
  take_frames(now_ns());
  if (slow_ == slow::draining)
    read_more();
}

// At t1: parse what was kept, then read again until EOF, an error or end_slow_drain.
void connection::start_slow_drain() {
  if (slow_ != slow::paused)
    return;
  slow_ = slow::draining;
  take_frames(now_ns());
  if (slow_ != slow::draining)
    return;
  if (in_.size() < slow_drain_buffer)
    in_.resize(slow_drain_buffer); // fewer reads for what may be megabytes
  if (!reading_)
    read_more();
}

void connection::end_slow_drain() {
  if (slow_ == slow::draining)
    finish_slow(false);
}

// The slow client's verdict. The socket stays open until close_all(); with state_ closed
// nothing is read or written on it any more.
void connection::finish_slow(bool closed_by_server) {
  if (slow_ == slow::no || slow_ == slow::done)
    return;
  slow_ = slow::done;
  state_ = state::closed;
  error_code ignored;
  socket_.cancel(ignored);
  worker_.slow_client_finished(closed_by_server);
}

// -- connection: writing ---------------------------------------------------------

// Appends one masked frame (FIN set) to the queue.
void connection::send_frame(unsigned op, std::string_view payload) {
  if (state_ == state::closed)
    return;
  std::string& out = out_queued_;
  const std::uint64_t n = payload.size();
  out.push_back(static_cast<char>(0x80 | op));
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    for (int shift = 8; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((n >> shift) & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out.append(reinterpret_cast<const char*>(mask_.data()), mask_.size());
  const std::size_t start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < n; ++i)
    out[start + i] ^= static_cast<char>(mask_[i % 4]);
  flush();
}

// One async_write at a time; whatever was queued meanwhile goes out in the next one.
void connection::flush() {
  if (writing_ || out_queued_.empty() || state_ == state::closed)
    return;
  out_writing_.swap(out_queued_);
  writing_ = true;
  auto done = [this](const error_code& ec, std::size_t) {
    writing_ = false;
    out_writing_.clear(); // keeps its capacity for the next swap
    if (closing_)
      return;
    if (ec)
      return lost("write: " + ec.message());
    flush();
  };
  if (tls_)
    asio::async_write(*tls_, asio::buffer(out_writing_), std::move(done));
  else
    asio::async_write(socket_, asio::buffer(out_writing_), std::move(done));
}

// -- connection: the scenario's traffic ------------------------------------------

void connection::start_sending(std::int64_t first_send_ns) {
  if (state_ != state::ready)
    return;
  sending_ = true;
  if (opts.kind == scenario::ack)
    return send_ping();
  if (opts.rate <= 0)
    return fill_window();
  next_send_ns_ = first_send_ns;
  timer_.emplace(worker_.context());
  arm_rate_timer();
}

void connection::stop_sending() {
  sending_ = false;
  if (timer_)
    timer_->cancel();
}

std::string& connection::begin_event() {
  std::string& s = worker_.scratch();
  s.assign("42");
  s += opts.nsp_prefix;
  return s;
}

void connection::send_benchmark_message() {
  const std::int64_t now = now_ns();
  std::string& m = begin_event();
  if (opts.kind == scenario::fanout) {
    m += "[\"send-message\",{\"sender\":\"bench\",\"text\":\"t:";
    append_number(m, static_cast<std::uint64_t>(now));
    m += ":s";
    append_number(m, index_);
    m += ":";
    m += opts.filler; // --text-bytes: a longer message
    m += "\",\"platform\":\"bench\"}]";
  } else {
    m += "[\"sendMessage\",{\"conversationId\":\"conv-";
    append_number(m, index_ % opts.rooms);
    m += "\",\"senderId\":\"u";
    append_number(m, index_);
    m += "\",\"content\":\"t:";
    append_number(m, static_cast<std::uint64_t>(now));
    m += ":s";
    append_number(m, index_);
    m += ":";
    m += opts.filler;
    m += "\",\"type\":\"text\"}]";
  }
  send_frame(op_text, m);
  ++in_flight_;
  worker_.record_send(now);
}

void connection::send_ping() {
  ack_sent_ns_ = now_ns();
  awaited_ack_ = next_ack_id_++;
  std::string& m = begin_event();
  append_number(m, awaited_ack_);
  m += "[\"ping\",{\"t\":\"t:";
  append_number(m, static_cast<std::uint64_t>(ack_sent_ns_));
  m += "\"}]";
  send_frame(op_text, m);
  worker_.record_send(ack_sent_ns_);
}

// Flow control: at most --window own messages in flight.
void connection::fill_window() {
  while (sending_ && in_flight_ < opts.window)
    send_benchmark_message();
}

// Open loop: one message every 1/rate s on a fixed schedule (late timers catch up).
void connection::arm_rate_timer() {
  timer_->expires_at(from_ns(next_send_ns_));
  timer_->async_wait([this](const error_code& ec) {
    if (ec || !sending_)
      return;
    send_benchmark_message();
    next_send_ns_ += static_cast<std::int64_t>(1e9 / opts.rate);
    arm_rate_timer();
  });
}

// -- worker ------------------------------------------------------------------------

worker::worker(std::vector<tcp::endpoint> servers, std::size_t connect_window)
    : guard_(ctx_.get_executor()), servers_(std::move(servers)), connect_window_(std::max<std::size_t>(1, connect_window)) {
  if (opts.tls) {
    tls_context_.emplace(asio::ssl::context::tls_client);
    tls_context_->set_verify_mode(asio::ssl::verify_none); // the benchmark's self-signed certificate
  }
}

worker::~worker() {
  join();
  if (inflater_ready_)
    inflateEnd(&inflater_);
}

// A message this worker inflated recently comes from the cache (the same bytes inflate to
// the same text: no context is taken over from one message to the next).
std::optional<std::string_view> worker::inflate(std::string_view compressed) {
  if (opts.inflate_all)
    return inflate_with_zlib(compressed);
  if (inflate_cache_.empty())
    inflate_cache_.resize(inflate_cache_entries);
  auto& entry = inflate_cache_[std::hash<std::string_view>{}(compressed) % inflate_cache_entries];
  if (entry.valid && entry.compressed == compressed) {
    add(stats.inflated_bytes, entry.text.size());
    return std::string_view(entry.text);
  }
  const auto text = inflate_with_zlib(compressed);
  if (!text)
    return std::nullopt;
  entry.compressed.assign(compressed);
  entry.text.assign(*text);
  entry.valid = true;
  return text;
}

// Raw deflate (no zlib header), the message's bytes then the 00 00 ff ff its sender
// removed, into inflated_ (grown as needed, never shrunk).
std::optional<std::string_view> worker::inflate_with_zlib(std::string_view compressed) {
  bump(stats.inflated);
  if (!inflater_ready_) {
    if (inflateInit2(&inflater_, -MAX_WBITS) != Z_OK)
      return std::nullopt;
    inflater_ready_ = true;
    inflated_.resize(initial_inflate_buffer);
  } else if (inflateReset(&inflater_) != Z_OK) {
    return std::nullopt;
  }
  std::size_t produced = 0;
  const std::string_view parts[] = {compressed,
                                    {reinterpret_cast<const char*>(deflate_tail), sizeof deflate_tail}};
  for (const auto part : parts) {
    inflater_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    inflater_.avail_in = static_cast<uInt>(part.size());
    for (;;) {
      if (produced == inflated_.size()) {
        if (produced >= max_frame_payload)
          return std::nullopt;
        inflated_.resize(produced * 2);
      }
      inflater_.next_out = reinterpret_cast<Bytef*>(inflated_.data() + produced);
      inflater_.avail_out = static_cast<uInt>(inflated_.size() - produced);
      const int rc = ::inflate(&inflater_, Z_SYNC_FLUSH);
      produced = inflated_.size() - inflater_.avail_out;
      if (rc == Z_STREAM_END) { // a final block: nothing may follow, the tail not needed
        add(stats.inflated_bytes, produced);
        return std::string_view(inflated_.data(), produced);
      }
      if (rc == Z_BUF_ERROR && inflater_.avail_in == 0)
        break; // all in, nothing more to come out
      if (rc != Z_OK)
        return std::nullopt;
      if (inflater_.avail_in == 0 && inflater_.avail_out > 0)
        break;
    }
  }
  add(stats.inflated_bytes, produced);
  return std::string_view(inflated_.data(), produced);
}

void worker::add_client(std::size_t index) {
  connections_.push_back(std::make_unique<connection>(*this, index));
}

void worker::begin_connecting() {
  asio::post(ctx_, [this] { connect_more(); });
}

// Keeps up to connect_window_ handshakes in flight.
void worker::connect_more() {
  while (handshakes_in_flight_ < connect_window_ && next_to_connect_ < connections_.size()) {
    ++handshakes_in_flight_;
    connections_[next_to_connect_++]->start();
  }
}

void worker::handshake_finished(bool ok, std::string_view why) {
  --handshakes_in_flight_;
  if (ok) {
    bump(stats.connected);
    stats.last_ready_ns.store(now_ns(), std::memory_order_relaxed);
  } else {
    bump(stats.failed);
    remember_error(why);
  }
  connect_more();
}

void worker::connection_dropped(std::size_t index, std::string_view why) {
  bump(stats.dropped);
  remember_error("client " + std::to_string(index) + " dropped: " + std::string(why));
}

void worker::remember_error(std::string_view why) {
  if (logged_failures_++ < max_logged_failures) {
    std::fprintf(stderr, "loadgen: %.*s\n", static_cast<int>(why.size()), why.data());
  }
  std::lock_guard lock(error_mutex_);
  if (first_error_.empty())
    first_error_ = why;
}

void worker::record_delivery(std::int64_t sent_ns, std::int64_t now) {
  bump(stats.delivered);
  if (now < window_start_ || now >= window_end_)
    return;
  bump(stats.delivered_in_window);
  latencies.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - sent_ns)) / 1000);
}

void worker::record_send(std::int64_t now) {
  bump(stats.sent);
  if (now >= window_start_ && now < window_end_)
    bump(stats.sent_in_window);
}

void worker::note_error(std::string_view frame) {
  if (stats.errors.load(std::memory_order_relaxed) < max_logged_failures) {
    std::fprintf(stderr, "loadgen: error frame: %.*s\n", static_cast<int>(std::min(frame.size(), logged_frame_chars)),
                 frame.data());
  }
  bump(stats.errors);
}

// --verbose: the first frame of each event name the scenario does not use.
void worker::log_unexpected(std::string_view body) {
  const std::string_view name = body.substr(0, body.find_first_of(",]"));
  if (!logged_events_.insert(std::string(name)).second)
    return;
  std::fprintf(stderr, "loadgen: ignored event: %.*s\n", static_cast<int>(std::min(body.size(), logged_frame_chars)),
               body.data());
}

void worker::begin_sending(std::int64_t t0, std::int64_t t1) {
  asio::post(ctx_, [this, t0, t1] {
    window_start_ = t0;
    window_end_ = t1;
    // --slow-clients: the last K clients (never senders) stop reading.
    const std::size_t first_slow = opts.clients - opts.slow_clients;
    for (auto& c : connections_) {
      if (c->index() >= first_slow)
        c->pause_reading();
    }
    // The senders are clients 0..S-1: client i is in room i % R, so they spread over the rooms.
    const std::size_t senders = opts.senders;
    for (auto& c : connections_) {
      if (c->index() >= senders)
        continue;
      // --rate: stagger the senders over one interval.
      const double offset = opts.rate > 0 ? 1e9 / opts.rate * c->index() / senders : 0;
      c->start_sending(t0 + static_cast<std::int64_t>(offset));
    }
  });
}

void worker::end_sending() {
  asio::post(ctx_, [this] {
    for (auto& c : connections_)
      c->stop_sending();
  });
}

// At t1: the slow clients read again, for at most slow_drain_limit.
void worker::begin_slow_drain() {
  asio::post(ctx_, [this] {
    for (auto& c : connections_)
      c->start_slow_drain();
    slow_drain_timer_.emplace(ctx_, slow_drain_limit);
    slow_drain_timer_->async_wait([this](const error_code& ec) {
      if (ec)
        return;
      for (auto& c : connections_)
        c->end_slow_drain();
    });
  });
}

void worker::slow_client_finished(bool closed_by_server) {
  if (closed_by_server)
    bump(stats.slow_closed);
  bump(stats.slow_done);
}

// Closes every socket; run() returns once the aborted operations have completed.
void worker::close_all() {
  asio::post(ctx_, [this] {
    if (slow_drain_timer_)
      slow_drain_timer_->cancel();
    for (auto& c : connections_)
      c->close();
    guard_.reset();
  });
}

// -- /proc and rusage ---------------------------------------------------------------

// utime + stime of one whole process (all threads), seconds.
std::optional<double> process_cpu_seconds(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line))
    return std::nullopt;
  const auto comm_end = line.rfind(')'); // the command name may contain spaces
  if (comm_end == std::string::npos)
    return std::nullopt;
  std::istringstream fields(line.substr(comm_end + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) { // field 3 is the state
    if (number == 14)
      utime = std::stoull(field);
    if (number == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<long> process_rss_kb(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(file, line);) {
    if (starts_with(line, "VmRSS:"))
      return std::stol(line.substr(6));
  }
  return std::nullopt;
}

// Summed over the server's processes (every node of a cluster); nothing if one is gone.
std::optional<double> server_cpu_seconds() {
  if (opts.server_pids.empty())
    return std::nullopt;
  double sum = 0;
  for (int pid : opts.server_pids) {
    auto v = process_cpu_seconds(pid);
    if (!v)
      return std::nullopt;
    sum += *v;
  }
  return sum;
}

std::optional<long> server_rss_kb() {
  if (opts.server_pids.empty())
    return std::nullopt;
  long sum = 0;
  for (int pid : opts.server_pids) {
    auto v = process_rss_kb(pid);
    if (!v)
      return std::nullopt;
    sum += *v;
  }
  return sum;
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A figure for the JSON: rounded to 3 decimals, and an integer when it is one (Boost.JSON
// prints every double in exponent form, 5E0).
json::value figure(double v) {
  const double rounded = std::round(v * 1000) / 1000;
  if (rounded == std::trunc(rounded) && std::fabs(rounded) < 9e15)
    return static_cast<std::int64_t>(rounded);
  return rounded;
}

// Rates and byte counts: whole units are precise enough.
json::value whole(double v) {
  return static_cast<std::int64_t>(std::llround(v));
}

json::value optional_figure(std::optional<double> v) {
  return v ? figure(*v) : json::value(nullptr);
}

// -- the controller --------------------------------------------------------------------

// -- the server's write syscalls (--count-writes) ------------------------------------

// perf stat attached to the server, its events enabled for the measurement window only
// (through perf's control fifo). Tracing syscalls costs the server a little on each, so
// bench/run.py counts in runs of their own, never in those whose CPU it reports.
class write_counter {
public:
  static constexpr std::string_view syscalls[] = {"sendmsg", "sendto", "write", "writev"};
  static constexpr int ack_timeout_ms = 5000;

  write_counter() = default;
  write_counter(const write_counter&) = delete;
  write_counter& operator=(const write_counter&) = delete;
  ~write_counter() {
    stop();
    for (const char* name : {"/ctl", "/ack", "/out"})
      unlink((dir_ + name).c_str());
    if (!dir_.empty())
      rmdir(dir_.c_str());
  }

  // Starts perf on pid with its events disabled; false if it cannot.
  bool attach(int pid) {
    char dir[] = "/tmp/loadgen-perf-XXXXXX";
    if (!mkdtemp(dir))
      return false;
    dir_ = dir;
    if (mkfifo((dir_ + "/ctl").c_str(), 0600) != 0 || mkfifo((dir_ + "/ack").c_str(), 0600) != 0)
      return false;
    // Read-write opens of a fifo do not wait for the other end (Linux): a perf that
    // failed to start cannot block us, the ack's poll times out instead.
    ctl_ = open((dir_ + "/ctl").c_str(), O_RDWR | O_CLOEXEC);
    ack_ = open((dir_ + "/ack").c_str(), O_RDWR | O_CLOEXEC);
    std::string events;
    for (auto name : syscalls)
      events.append(events.empty() ? "" : ",").append("syscalls:sys_enter_").append(name);
    const std::string pid_arg = std::to_string(pid), control = "fifo:" + dir_ + "/ctl," + dir_ + "/ack",
                      out = dir_ + "/out";
    std::vector<std::string> args{"perf",  "stat",       "-x,",       "-e",    events, "-p",
                                  pid_arg, "--delay=-1", "--control", control, "-o",   out};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    // perf must not hold the clients' sockets open (Asio does not mark them close-on-exec).
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addclosefrom_np(&files, STDERR_FILENO + 1);
    const bool spawned =
        ctl_ >= 0 && ack_ >= 0 && posix_spawnp(&perf_, "perf", &files, nullptr, argv.data(), environ) == 0;
    posix_spawn_file_actions_destroy(&files);
    if (!spawned)
      perf_ = -1;
    return spawned;
  }

  bool enable() { return command("enable\n"); }
  bool disable() { return command("disable\n"); }

  // Ends perf; the count of each syscall, or nothing if perf gave none.
  std::optional<std::vector<std::pair<std::string, std::uint64_t>>> finish() {
    if (!stop())
      return std::nullopt;
    std::ifstream file(dir_ + "/out");
    std::vector<std::pair<std::string, std::uint64_t>> counts;
    for (std::string line; std::getline(file, line);) { // count,unit,event,...
      const auto first = line.find(','), second = line.find(',', first + 1);
      const auto third = line.find(',', second + 1);
      const std::string_view prefix = "syscalls:sys_enter_";
      if (first == std::string::npos || third == std::string::npos
          || line.compare(second + 1, prefix.size(), prefix) != 0)
        continue;
      const auto [value, digits] = leading_number(std::string_view(line).substr(0, first));
      counts.emplace_back(line.substr(second + 1 + prefix.size(), third - second - 1 - prefix.size()),
                          digits == first ? value : 0); // "<not counted>": none
    }
    if (counts.empty())
      return std::nullopt;
    return counts;
  }

private:
  bool command(std::string_view text) {
    if (perf_ < 0 || write(ctl_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      return false;
    pollfd ready{ack_, POLLIN, 0};
    char ack[16];
    return poll(&ready, 1, ack_timeout_ms) == 1 && read(ack_, ack, sizeof ack) > 0;
  }

  // SIGINT makes perf write its counts and exit; true if it exited on its own terms.
  bool stop() {
    if (ctl_ >= 0)
      close(std::exchange(ctl_, -1));
    if (ack_ >= 0)
      close(std::exchange(ack_, -1));
    if (perf_ < 0)
      return false;
    kill(perf_, SIGINT);
    int status = 0;
    waitpid(std::exchange(perf_, -1), &status, 0);
    return WIFEXITED(status) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
  }

  std::string dir_;
  pid_t perf_ = -1;
  int ctl_ = -1, ack_ = -1;
};

// Runs the scenario from the main thread: posts phase changes to the workers and polls
// their counters.
class controller {
public:
  explicit controller(std::vector<std::unique_ptr<worker>>& workers) : workers_(workers) {}

  int run();

private:
  std::uint64_t sum(std::atomic<std::uint64_t> counters::*field) const {
    std::uint64_t total = 0;
    for (auto& w : workers_)
      total += (w->stats.*field).load(std::memory_order_relaxed);
    return total;
  }
  std::string first_error() const;
  template <class F> void for_each_worker(F f) {
    for (auto& w : workers_)
      f(*w);
  }

  bool connect_all();
  void wait_warmup();
  void measure();
  void drain();
  void wait_slow_drain();
  void sample_rss();
  void shut_down();
  json::object common_fields() const;
  int report_messages();
  int report_connect(double t_first, std::optional<long> rss_before, std::optional<double> cpu_before);
  int fail(json::object result, const std::string& error);

  std::vector<std::unique_ptr<worker>>& workers_;
  std::int64_t t0_ = 0, t1_ = 0;
  std::optional<double> cpu0_, cpu1_;
  std::optional<long> rss0_, rss1_, rss_max_; // at t0, at t1, the maximum sampled in between
  double gen0_ = 0, gen1_ = 0;
  histogram latencies_;
  std::optional<write_counter> writes_; // --count-writes
};

std::string controller::first_error() const {
  for (auto& w : workers_) {
    if (auto e = w->first_error(); !e.empty())
      return e;
  }
  return {};
}

// Opens every connection; false if one failed or not all connected in time (the
// connect scenario waits for every attempt to finish instead).
bool controller::connect_all() {
  for_each_worker([](worker& w) { w.begin_connecting(); });
  const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                            std::chrono::duration<double>(opts.connect_timeout));
  auto next_progress = steady::now() + progress_interval;
  while (steady::now() < deadline) {
    const auto connected = sum(&counters::connected), failed = sum(&counters::failed);
    if (connected + failed == opts.clients)
      return failed == 0;
    if (failed > 0 && opts.kind != scenario::connect)
      return false;
    if (steady::now() >= next_progress) {
      std::fprintf(stderr, "connecting: %llu/%zu connected, %llu failed\n", static_cast<unsigned long long>(connected),
                   opts.clients, static_cast<unsigned long long>(failed));
      next_progress += progress_interval;
    }
    std::this_thread::sleep_for(poll_interval);
  }
  return false;
}

// The warmup, then until nothing arrived for warmup_quiet (the connect broadcasts drained).
void controller::wait_warmup() {
  const auto start = steady::now();
  const auto frames_at_start = sum(&counters::frames);
  std::this_thread::sleep_for(std::chrono::duration<double>(opts.warmup));
  const auto limit = steady::now() + warmup_quiet_limit;
  auto frames = sum(&counters::frames);
  auto quiet_since = steady::now();
  while (steady::now() - quiet_since < warmup_quiet && steady::now() < limit) {
    std::this_thread::sleep_for(poll_interval);
    if (const auto now_frames = sum(&counters::frames); now_frames != frames) {
      frames = now_frames;
      quiet_since = steady::now();
    }
  }
  std::fprintf(stderr, "warmup: %.3f s, %llu frames received meanwhile (the connect broadcasts)\n",
               std::chrono::duration<double>(steady::now() - start).count(),
               static_cast<unsigned long long>(frames - frames_at_start));
}

void controller::measure() {
  if (writes_ && !writes_->enable()) {
    std::fprintf(stderr, "loadgen: --count-writes: perf did not answer\n");
    writes_.reset();
  }
  t0_ = now_ns();
  t1_ = t0_ + static_cast<std::int64_t>(opts.duration * 1e9);
  cpu0_ = server_cpu_seconds();
  rss0_ = server_rss_kb();
  rss_max_ = rss0_;
  gen0_ = own_cpu_seconds();
  for_each_worker([this](worker& w) { w.begin_sending(t0_, t1_); });
  auto next_progress = from_ns(t0_) + progress_interval;
  auto next_sample = from_ns(t0_) + rss_sample_interval;
  std::uint64_t delivered = 0;
  for (;;) {
    const auto wake = std::min(next_progress, next_sample);
    if (wake >= from_ns(t1_))
      break;
    std::this_thread::sleep_until(wake);
    if (wake == next_sample) {
      sample_rss();
      next_sample += rss_sample_interval;
    }
    if (wake != next_progress)
      continue;
    const auto now_delivered = sum(&counters::delivered_in_window);
    std::fprintf(stderr, "measuring: %.0f s: %llu delivered/s, %llu sent, %llu dropped, %llu errors\n",
                 std::chrono::duration<double>(next_progress - from_ns(t0_)).count(),
                 static_cast<unsigned long long>(now_delivered - delivered),
                 static_cast<unsigned long long>(sum(&counters::sent_in_window)),
                 static_cast<unsigned long long>(sum(&counters::dropped)),
                 static_cast<unsigned long long>(sum(&counters::errors)));
    delivered = now_delivered;
    next_progress += progress_interval;
  }
  std::this_thread::sleep_until(from_ns(t1_));
  cpu1_ = server_cpu_seconds();
  rss1_ = server_rss_kb();
  if (rss1_ && (!rss_max_ || *rss1_ > *rss_max_))
    rss_max_ = rss1_;
  gen1_ = own_cpu_seconds();
  if (writes_)
    writes_->disable();
  for_each_worker([](worker& w) { w.end_sending(); });
  if (opts.slow_clients > 0)
    for_each_worker([](worker& w) { w.begin_slow_drain(); });
}

void controller::sample_rss() {
  if (const auto rss = server_rss_kb(); rss && (!rss_max_ || *rss > *rss_max_))
    rss_max_ = rss;
}

// --slow-clients: until every slow client is done draining (they stop by themselves after
// slow_drain_limit; the margin is for a worker thread busy with the rest).
void controller::wait_slow_drain() {
  if (opts.slow_clients == 0)
    return;
  const auto limit = steady::now() + slow_drain_limit + 2s;
  while (sum(&counters::slow_done) < sum(&counters::slow_paused) && steady::now() < limit)
    std::this_thread::sleep_for(poll_interval);
  std::fprintf(stderr, "slow clients: %llu stopped reading, %llu closed by the server\n",
               static_cast<unsigned long long>(sum(&counters::slow_paused)),
               static_cast<unsigned long long>(sum(&counters::slow_closed)));
}

// Waits for the messages still in flight: until nothing arrives for drain_quiet.
void controller::drain() {
  const auto limit = steady::now() + drain_limit;
  auto delivered = sum(&counters::delivered);
  auto quiet_since = steady::now();
  while (steady::now() < limit && steady::now() - quiet_since < drain_quiet) {
    std::this_thread::sleep_for(poll_interval);
    if (const auto now_delivered = sum(&counters::delivered); now_delivered != delivered) {
      delivered = now_delivered;
      quiet_since = steady::now();
    }
  }
}

void controller::shut_down() {
  for_each_worker([](worker& w) { w.close_all(); });
  for_each_worker([this](worker& w) {
    w.join();
    latencies_.merge(w.latencies);
  });
}

json::object controller::common_fields() const {
  json::object o;
  o["scenario"] = opts.scenario_name;
  o["clients"] = opts.clients;
  o["threads"] = opts.threads;
  o["connected"] = sum(&counters::connected);
  o["connect_failures"] = sum(&counters::failed);
  o["dropped_connections"] = sum(&counters::dropped);
  o["errors"] = sum(&counters::errors);
  if (opts.tls)
    o["tls"] = true;
  if (opts.deflate) {
    // The whole run's (connect broadcasts and warmup included), not the window's.
    const auto compressed = sum(&counters::compressed), wire = sum(&counters::compressed_bytes),
               inflated = sum(&counters::inflated_bytes);
    o["deflate_accepted"] = sum(&counters::deflate_accepted);
    o["compressed_messages"] = compressed;
    o["compressed_bytes"] = wire;
    o["inflated_bytes"] = inflated;
    o["inflated_by_zlib"] = sum(&counters::inflated);
    std::fprintf(stderr, "deflate: accepted on %llu connections; %llu messages came compressed, %llu bytes inflated "
                         "to %llu\n",
                 static_cast<unsigned long long>(sum(&counters::deflate_accepted)),
                 static_cast<unsigned long long>(compressed), static_cast<unsigned long long>(wire),
                 static_cast<unsigned long long>(inflated));
  }
  return o;
}

int controller::fail(json::object result, const std::string& error) {
  std::fprintf(stderr, "loadgen: %s\n", error.c_str());
  result["error"] = error;
  std::cout << json::serialize(result) << std::endl;
  return 1;
}

int controller::run() {
  const auto rss_before = server_rss_kb();
  const auto cpu_before = server_cpu_seconds();
  const auto t_first = static_cast<double>(now_ns());
  const bool connected = connect_all();
  const bool all_attempted = sum(&counters::connected) + sum(&counters::failed) == opts.clients;
  if (all_attempted) {
    std::fprintf(stderr, "connected: %llu of %zu clients in %.3f s\n",
                 static_cast<unsigned long long>(sum(&counters::connected)), opts.clients,
                 (static_cast<double>(now_ns()) - t_first) / 1e9);
  }
  // connect reports its figures even with failures (and exits 1 after them).
  if (opts.kind == scenario::connect && all_attempted)
    return report_connect(t_first, rss_before, cpu_before);
  if (!connected) {
    std::string error = std::to_string(sum(&counters::connected)) + " of " + std::to_string(opts.clients)
                        + " clients connected (" + std::to_string(sum(&counters::failed)) + " failed)";
    if (auto first = first_error(); !first.empty())
      error += "; first error: " + first;
    auto result = common_fields();
    shut_down();
    return fail(std::move(result), error);
  }
  if (opts.count_writes) {
    writes_.emplace();
    if (!writes_->attach(opts.server_pid)) {
      std::fprintf(stderr, "loadgen: --count-writes: cannot start perf stat\n");
      writes_.reset();
    }
  }
  wait_warmup();
  measure();
  drain();
  wait_slow_drain();
  return report_messages();
}

int controller::report_messages() {
  auto result = common_fields(); // before closing: counters as of the end of the drain
  shut_down();
  const auto delivered = sum(&counters::delivered_in_window);
  const auto sent = sum(&counters::sent_in_window);
  result["senders"] = opts.senders;
  if (opts.kind == scenario::rooms)
    result["rooms"] = opts.rooms;
  result["rate"] = figure(opts.rate);
  result["window"] = opts.window;
  result["duration_s"] = figure(opts.duration);
  result["delivered"] = delivered;
  result["delivered_per_s"] = whole(static_cast<double>(delivered) / opts.duration);
  result["sent"] = sent;
  result["sent_per_s"] = whole(static_cast<double>(sent) / opts.duration);
  result["samples"] = latencies_.total();
  result["p50_us"] = latencies_.percentile(0.50);
  result["p90_us"] = latencies_.percentile(0.90);
  result["p99_us"] = latencies_.percentile(0.99);
  result["max_us"] = latencies_.max();
  std::optional<double> cpu;
  if (cpu0_ && cpu1_)
    cpu = *cpu1_ - *cpu0_;
  result["server_cpu_s"] = optional_figure(cpu);
  result["server_cpu_pct"] = optional_figure(cpu ? std::optional(*cpu / opts.duration * 100) : std::nullopt);
  result["server_cpu_us_per_msg"] =
      optional_figure(cpu && delivered ? std::optional(*cpu * 1e6 / delivered) : std::nullopt);
  auto rss = [](const std::optional<long>& kb) { return kb ? json::value(*kb) : json::value(nullptr); };
  result["server_rss_kb_t0"] = rss(rss0_);
  result["server_rss_kb"] = rss(rss1_);
  result["server_rss_kb_max"] = rss(rss_max_);
  if (opts.kind == scenario::fanout || opts.kind == scenario::rooms) {
    result["slow_clients"] = opts.slow_clients;
    result["slow_closed_by_server"] = sum(&counters::slow_closed);
  }
  result["gen_cpu_s"] = figure(gen1_ - gen0_);
  result["gen_cpu_pct"] = figure((gen1_ - gen0_) / opts.duration * 100);
  if (writes_) {
    const auto counts = writes_->finish();
    std::uint64_t total = 0;
    json::object by_syscall;
    if (counts) {
      for (const auto& [name, count] : *counts) {
        by_syscall[name] = count;
        total += count;
      }
    }
    result["server_write_syscalls"] = std::move(by_syscall);
    result["server_writes"] = counts ? json::value(total) : json::value(nullptr);
    result["frames_per_write"] =
        total ? figure(static_cast<double>(delivered) / static_cast<double>(total)) : json::value(nullptr);
  }
  std::cout << json::serialize(result) << std::endl;
  return 0;
}

int controller::report_connect(double t_first, std::optional<long> rss_before, std::optional<double> cpu_before) {
  std::int64_t t_last = 0;
  for (auto& w : workers_)
    t_last = std::max(t_last, w->stats.last_ready_ns.load());
  const auto cpu_connected = server_cpu_seconds();
  const double gen_connected = own_cpu_seconds();
  std::fprintf(stderr, "holding %zu connections for %lld s\n", opts.clients,
               static_cast<long long>(connect_hold_idle.count()));
  const auto frames_connected = sum(&counters::frames);
  std::this_thread::sleep_for(connect_hold_idle);
  std::fprintf(stderr, "%llu frames received while holding (the connect broadcasts)\n",
               static_cast<unsigned long long>(sum(&counters::frames) - frames_connected));
  const auto rss_after = server_rss_kb();
  const auto cpu_after = server_cpu_seconds();
  auto result = common_fields();
  shut_down();
  const auto connected = sum(&counters::connected);
  const double seconds = (static_cast<double>(t_last) - t_first) / 1e9;
  result["connect_window"] = opts.connect_window;
  result["connect_time_s"] = figure(seconds);
  result["connects_per_s"] = whole(seconds > 0 ? static_cast<double>(connected) / seconds : 0);
  result["failures"] = sum(&counters::failed);
  if (rss_before && rss_after) {
    result["rss_before_kb"] = *rss_before;
    result["rss_after_kb"] = *rss_after;
    result["rss_per_conn_bytes"] =
        whole(static_cast<double>(*rss_after - *rss_before) * 1024 / static_cast<double>(opts.clients));
  }
  if (cpu_before && cpu_connected && cpu_after) {
    // Until the last connect, and until the end of the idle hold (the connect broadcasts
    // may still be going out when the last client is connected).
    result["server_cpu_s_until_connected"] = figure(*cpu_connected - *cpu_before);
    result["server_cpu_s"] = figure(*cpu_after - *cpu_before);
    result["server_cpu_us_per_connect"] =
        connected ? figure((*cpu_after - *cpu_before) * 1e6 / connected) : json::value(nullptr);
  }
  result["gen_cpu_s_until_connected"] = figure(gen_connected);
  if (const auto failed = sum(&counters::failed); failed > 0) {
    return fail(std::move(result), std::to_string(failed) + " connections failed; first error: " + first_error());
  }
  std::cout << json::serialize(result) << std::endl;
  return 0;
}

// -- the hard timeout ---------------------------------------------------------------

// Prints {"error":"timeout"} and exits 2 if the run is not over by --timeout seconds.
class watchdog {
public:
  explicit watchdog(const std::vector<std::unique_ptr<worker>>& workers)
      : thread_([this, &workers] { watch(workers); }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

private:
  void watch(const std::vector<std::unique_ptr<worker>>& workers) {
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, std::chrono::duration<double>(opts.timeout), [this] { return done_; }))
      return;
    std::uint64_t connected = 0, delivered = 0;
    for (auto& w : workers) {
      connected += w->stats.connected.load();
      delivered += w->stats.delivered_in_window.load();
    }
    json::object o{{"scenario", opts.scenario_name},
                   {"clients", opts.clients},
                   {"connected", connected},
                   {"delivered", delivered},
                   {"error", "timeout"}};
    std::fprintf(stderr, "loadgen: timeout after %.0f s\n", opts.timeout);
    std::cout << json::serialize(o) << std::endl;
    std::_Exit(2);
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

// -- setup ------------------------------------------------------------------------------

// Parses the command line into opts; returns an exit code when the program should stop.
std::optional<int> parse_options(int argc, char** argv) {
  po::options_description desc(
      "loadgen: Socket.IO v5 load generator (WebSocket only)\n"
      "scenarios: fanout (send-message -> receive-message to all), rooms (joinRoom, sendMessage ->\n"
      "receiveMessage to the room), connect (handshake rate and server RSS per connection),\n"
      "ack (sequential ping round trips with an ack)\n\noptions");
  desc.add_options()("help,h", "print this help and exit")("host", po::value(&opts.host)->default_value(opts.host),
                                                           "server address (127.x only)")(
      "port", po::value(&opts.port)->default_value(0),
      "server port")("ports", po::value(&opts.ports_list),
                     "a cluster: P1,P2,... (client i connects to the (i mod n)-th; instead of --port)")(
      "server-pids", po::value(&opts.server_pids_list),
      "a cluster: PID1,PID2,... whose CPU and RSS are summed (instead of --server-pid)")("path", po::value(&opts.path)->default_value(opts.path),
                     "Engine.IO path")("nsp", po::value(&opts.nsp)->default_value(opts.nsp), "Socket.IO namespace")(
      "scenario", po::value(&opts.scenario_name)->default_value(opts.scenario_name), "fanout, rooms, connect or ack")(
      "clients", po::value(&opts.clients)->default_value(0), "connections (0: 1 for ack, else 100)")(
      "senders", po::value(&opts.senders)->default_value(0), "sending clients (0: 4 for fanout, all but the slow ones otherwise)")(
      "rooms", po::value(&opts.rooms)->default_value(opts.rooms),
      "rooms scenario: number of rooms")("rate", po::value(&opts.rate)->default_value(opts.rate),
                                         "messages/s per sender (0: as fast as the window allows)")(
      "window", po::value(&opts.window)->default_value(opts.window), "--rate 0: own messages in flight per sender")(
      "duration", po::value(&opts.duration)->default_value(opts.duration), "measurement, seconds")(
      "warmup", po::value(&opts.warmup)->default_value(opts.warmup), "idle seconds between connected and measuring")(
      "connect-window", po::value(&opts.connect_window)->default_value(opts.connect_window), "handshakes in flight")(
      "threads", po::value(&opts.threads)->default_value(opts.threads), "I/O threads (one io_context each)")(
      "slow-clients", po::value(&opts.slow_clients)->default_value(opts.slow_clients),
      "fanout, rooms: the last K clients stop reading during the window; report how many the server closed")(
      "server-pid", po::value(&opts.server_pid)->default_value(0), "server process: CPU and RSS from /proc")(
      "timeout", po::value(&opts.timeout)->default_value(opts.timeout), "hard bound on the whole run, seconds")(
      "connect-timeout", po::value(&opts.connect_timeout)->default_value(opts.connect_timeout),
      "seconds for every client to connect")(
      "text-bytes", po::value(&opts.text_bytes)->default_value(opts.text_bytes),
      "filler bytes appended to each message's text (fanout, rooms)")(
      "text-fill", po::value(&opts.text_fill)->default_value(opts.text_fill),
      "the filler: x (one letter repeated), words (random common words) or random (random letters and digits)")(
      "inflate-all", po::bool_switch(&opts.inflate_all),
      "--deflate: inflate every message with zlib, even one this thread inflated already")(
      "deflate", po::bool_switch(&opts.deflate),
      "offer permessage-deflate; inflate the messages the server compresses (RSV1); the figures count them")(
      "tls", po::bool_switch(&opts.tls), "TLS on every connection (no certificate verification)")(
      "count-writes", po::bool_switch(&opts.count_writes),
      "fanout, rooms, with --server-pid: count the server's write syscalls in the window (perf stat)")(
      "verbose,v", po::bool_switch(&opts.verbose), "log the first frame of each ignored event");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << '\n';
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "loadgen: " << e.what() << "\n" << desc << '\n';
    return 1;
  }
  const std::pair<std::string_view, scenario> names[] = {
      {"fanout", scenario::fanout}, {"rooms", scenario::rooms}, {"connect", scenario::connect}, {"ack", scenario::ack}};
  const auto named =
      std::find_if(std::begin(names), std::end(names), [](const auto& n) { return n.first == opts.scenario_name; });
  if (named == std::end(names)) {
    std::cerr << "loadgen: unknown scenario " << opts.scenario_name << '\n';
    return 1;
  }
  opts.kind = named->second;
  if (opts.clients == 0)
    opts.clients = opts.kind == scenario::ack ? 1 : default_clients;
  const std::size_t default_senders = opts.kind == scenario::fanout
                                          ? default_fanout_senders
                                          : opts.clients - std::min(opts.slow_clients, opts.clients);
  if (opts.senders == 0)
    opts.senders = default_senders;
  opts.senders = opts.kind == scenario::connect ? 0 : std::min(opts.senders, opts.clients);
  if (opts.rooms == 0 || opts.threads == 0 || opts.window == 0 || opts.rate < 0 || opts.duration <= 0 || opts.warmup < 0
      || opts.timeout <= 0 || opts.nsp.empty() || opts.nsp[0] != '/') {
    std::cerr << "loadgen: --rooms, --threads, --window, --duration, --timeout must be positive, --rate and "
                 "--warmup not negative, --nsp must start with /\n";
    return 1;
  }
  if (opts.slow_clients > 0 && opts.kind != scenario::fanout && opts.kind != scenario::rooms) {
    std::cerr << "loadgen: --slow-clients is for the fanout and rooms scenarios\n";
    return 1;
  }
  if (opts.count_writes && (opts.server_pid <= 0 || (opts.kind != scenario::fanout && opts.kind != scenario::rooms))) {
    std::cerr << "loadgen: --count-writes is for the fanout and rooms scenarios, with --server-pid\n";
    return 1;
  }
  if (opts.slow_clients > opts.clients - opts.senders) {
    std::cerr << "loadgen: --slow-clients " << opts.slow_clients << " must leave the " << opts.senders
              << " senders out: at most " << opts.clients - opts.senders << '\n';
    return 1;
  }
  auto numbers = [](const std::string& list) {
    std::vector<long> out;
    std::stringstream in(list);
    for (std::string item; std::getline(in, item, ',');)
      if (!item.empty())
        out.push_back(std::stol(item));
    return out;
  };
  try {
    for (long p : numbers(opts.ports_list))
      opts.ports.push_back(static_cast<std::uint16_t>(p));
    for (long p : numbers(opts.server_pids_list))
      opts.server_pids.push_back(static_cast<int>(p));
  } catch (const std::exception&) {
    std::cerr << "loadgen: --ports and --server-pids are comma-separated numbers\n";
    return 1;
  }
  if (opts.ports.empty() && opts.port != 0)
    opts.ports.push_back(opts.port);
  if (opts.ports.empty()) {
    std::cerr << "loadgen: --port or --ports is required\n";
    return 1;
  }
  opts.port = opts.ports.front();
  if (opts.server_pids.empty() && opts.server_pid > 0)
    opts.server_pids.push_back(opts.server_pid);
  if (opts.server_pid <= 0 && !opts.server_pids.empty())
    opts.server_pid = opts.server_pids.front();
  if (opts.count_writes && opts.server_pids.size() > 1) {
    std::cerr << "loadgen: --count-writes counts one process\n";
    return 1;
  }
  opts.nsp_prefix = opts.nsp == "/" ? "" : opts.nsp + ",";
  if (opts.text_fill == "x") {
    opts.filler.assign(opts.text_bytes, 'x');
  } else if (opts.text_fill == "words" || opts.text_fill == "random") {
    // The same filler in every message and every run (a fixed seed).
    static constexpr std::string_view words[] = {
        "the",   "of",    "and",   "to",     "in",    "is",    "you",    "that",  "it",    "he",    "was",
        "for",   "on",    "are",   "as",     "with",  "his",   "they",   "at",    "be",    "this",  "have",
        "from",  "or",    "one",   "had",    "by",    "word",  "but",    "not",   "what",  "all",   "were",
        "we",    "when",  "your",  "can",    "said",  "there", "use",    "an",    "each",  "which", "she",
        "do",    "how",   "their", "if",     "will",  "up",    "other",  "about", "out",   "many",  "then",
        "them",  "these", "so",    "some",   "her",   "would", "make",   "like",  "him",   "into",  "time",
        "has",   "look",  "two",   "more",   "write", "go",    "see",    "number", "no",   "way",   "could",
        "people", "my",   "than",  "first",  "water", "been",  "call",   "who",   "oil",   "its",   "now",
        "find",  "long",  "down",  "day",    "did",   "get",   "come",   "made",  "may",   "part",  "meeting",
        "tomorrow", "sounds", "good", "thanks", "later", "ok",  "lunch",  "today", "send",  "file",  "know"};
    static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&state] { // xorshift64
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    while (opts.filler.size() < opts.text_bytes) {
      if (opts.text_fill == "random") {
        opts.filler += alphabet[next() % alphabet.size()];
      } else {
        if (!opts.filler.empty())
          opts.filler += ' ';
        opts.filler += words[next() % std::size(words)];
      }
    }
    opts.filler.resize(opts.text_bytes);
  } else {
    std::cerr << "loadgen: --text-fill is x, words or random\n";
    return 1;
  }
  return std::nullopt;
}

// 127.x only: this tool must not load anything but a local server.
std::optional<std::vector<tcp::endpoint>> loopback_endpoints() {
  error_code ec;
  const auto address = asio::ip::make_address(opts.host == "localhost" ? "127.0.0.1" : opts.host, ec);
  if (ec || !address.is_v4() || address.to_v4().to_bytes()[0] != 127) {
    std::cerr << "loadgen: --host must be a 127.x address, not " << opts.host << '\n';
    return std::nullopt;
  }
  std::vector<tcp::endpoint> out;
  for (auto port : opts.ports)
    out.emplace_back(address, port);
  return out;
}

void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < opts.clients + 64) {
    std::fprintf(stderr, "loadgen: warning: open files limit %llu is below %zu clients\n",
                 static_cast<unsigned long long>(limit.rlim_cur), opts.clients);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (auto exit_code = parse_options(argc, argv))
    return *exit_code;
  const auto server = loopback_endpoints();
  if (!server)
    return 1;
  raise_file_limit();
  std::fprintf(stderr, "loadgen: %s, %zu clients, %zu senders, rate %g, window %zu, %zu thread(s), server %s:%u%s%s\n",
               opts.scenario_name.c_str(), opts.clients, opts.senders, opts.rate, opts.window, opts.threads,
               opts.host.c_str(), opts.port, opts.tls ? ", TLS" : "", opts.deflate ? ", permessage-deflate offered" : "");
  if (opts.ports.size() > 1)
    std::fprintf(stderr, "loadgen: clients spread over %zu nodes\n", opts.ports.size());
  if (opts.slow_clients > 0)
    std::fprintf(stderr, "loadgen: clients %zu..%zu stop reading during the measurement\n",
                 opts.clients - opts.slow_clients, opts.clients - 1);

  std::vector<std::unique_ptr<worker>> workers;
  for (std::size_t t = 0; t < opts.threads; ++t) {
    // The connect window is shared out between the workers.
    const std::size_t share = opts.connect_window / opts.threads + (t < opts.connect_window % opts.threads);
    workers.push_back(std::make_unique<worker>(*server, share));
  }
  for (std::size_t i = 0; i < opts.clients; ++i)
    workers[i % opts.threads]->add_client(i);
  for (auto& w : workers)
    w->start();

  watchdog guard(workers);
  controller run(workers);
  return run.run();
}
